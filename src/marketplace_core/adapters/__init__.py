"""Adapters: implementations of the ports (storage, clocks, sinks) shipped with the library."""
