"""The fake Slurm answers like Slurm: strict about what it does not know, and with Slurm's
exit codes and messages for what it does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketplace_core.plugins.slurm import commands
from marketplace_core.plugins.slurm.accounts import BLOCKED, TresLimits
from marketplace_core.plugins.slurm.client import CommandResult, SlurmClient
from marketplace_core.testing.slurm import FakeSlurmRunner

SACCTMGR = ["sacctmgr", "--immediate", "--parsable2", "--noheader"]
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)


@pytest.fixture
def fake() -> FakeSlurmRunner:
    runner = FakeSlurmRunner(known_tres=("cpu", "gres/gpu", "fs/disk"))
    runner.run(commands.add_account("mp_a", description="a", organization="p"))
    return runner


def refused(fake: FakeSlurmRunner, argv: list[str]) -> CommandResult:
    before = {name: repr(account) for name, account in fake.accounts.items()}
    result = fake.run(argv)
    assert result.exit_code != 0, result
    assert {name: repr(account) for name, account in fake.accounts.items()} == before
    return result


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sacctmgr", "--parsable", "list", "account"], "unrecognized option '--parsable'"),
        (["sacctmgr", "--immediate", "list", "account"], "only --parsable2 --noheader"),
        (["sacctmgr", "modify", "account", "where", "name=mp_a", "set", "GrpJobs=0"],
         "without --immediate"),
        ([*SACCTMGR, "modify", "account", "where", "name=mp_a", "set", "MaxWall=60"],
         "unknown option 'maxwall'"),
        ([*SACCTMGR, "modify", "account", "where", "name=mp_a", "set", "GrpTRESMins=license/x=1"],
         "invalid TRES 'license/x=1'"),
        ([*SACCTMGR, "modify", "account", "where", "name=mp_a", "set",
          "GrpTRESMins=cpu=5", "GrpJobs=lots"], "invalid value for grpjobs"),
        ([*SACCTMGR, "modify", "account", "where", "name=mp_a", "set", "GrpTRES=cpu=-2"],
         "invalid TRES value"),
        ([*SACCTMGR, "add", "account", "mp_b", "Parent=nobody"], "parent account 'nobody'"),
        ([*SACCTMGR, "add", "account", "mp_b", "Cluster=other"], "cluster 'other' does not exist"),
        ([*SACCTMGR, "list", "account", "format=Account,Coordinators"],
         "unknown field 'coordinators'"),
        ([*SACCTMGR, "archive", "account"], "unknown command"),
        ([*SACCTMGR, "add", "qos", "fast"], "unknown command"),
        ([*SACCTMGR, "list", "user"], "does not list users"),
        (["sacct", "--brief"], "unrecognized option '--brief'"),
        (["sacct", "--noheader", "--parsable2", "--accounts=a"], "the fake answers only"),
    ],
)  # fmt: skip
def test_what_slurm_would_refuse_is_refused_and_changes_nothing(
    fake: FakeSlurmRunner, argv: list[str], message: str
):
    assert message in refused(fake, argv).stderr


def test_slurm_says_nothing_changed_on_stdout_with_exit_code_1(fake: FakeSlurmRunner):
    again = refused(fake, commands.add_account("mp_a", description="a", organization="p"))
    assert again.stdout == " Nothing new added.\n"
    assert refused(fake, commands.set_job_limits("mp_x", BLOCKED)).stdout == "  Nothing modified\n"
    assert refused(fake, commands.remove_account("mp_x")).stdout == " Nothing deleted\n"
    assert refused(fake, commands.remove_user("bob", "mp_a")).stdout == " Nothing deleted\n"


def test_names_are_folded_to_lower_case(fake: FakeSlurmRunner):
    fake.run([*SACCTMGR, "add", "account", "MP_Upper"])
    assert "mp_upper" in fake.accounts
    assert fake.run([*SACCTMGR, "list", "account", "where", "name=MP_UPPER"]).stdout == (
        "mp_upper\n"
    )


def test_a_limit_of_minus_one_clears_it_and_unset_job_limits_list_empty(fake: FakeSlurmRunner):
    client = SlurmClient(fake)
    client.set_tres_limits("mp_a", TresLimits({"cpu": 60, "gres/gpu": 6}, {"fs/disk": 1}))
    client.set_tres_limits("mp_a", TresLimits({"gres/gpu": -1}, {}))
    assert fake.accounts["mp_a"].grp_tres_mins == {"cpu": 60}
    assert fake.accounts["mp_a"].grp_tres == {"fs/disk": 1}
    listed = fake.run(commands.show_association("mp_a")).stdout
    assert listed == "mp_a||cpu=60|fs/disk=1||\n"


def test_users_are_associations_of_an_account_and_go_with_it(fake: FakeSlurmRunner):
    client = SlurmClient(fake)
    client.add_user("alice", "mp_a")
    client.add_user("bob", "mp_a", cluster="cluster")
    assert refused(fake, commands.add_user("alice", "mp_a")).stdout == " Nothing new added.\n"
    assert (
        "needs user names and an existing account"
        in refused(fake, commands.add_user("carol", "mp_none")).stderr
    )
    client.remove_user("bob", "mp_a")
    assert fake.run(commands.show_association("mp_a")).stdout == "mp_a|||||\nmp_a|alice||||\n"
    own = client.association("mp_a")  # the account's own row, not alice's
    assert own is not None
    assert own.user == ""
    client.remove_account("mp_a")
    assert fake.run(commands.show_association("mp_a")).stdout == ""


def test_an_account_with_child_accounts_is_not_removed(fake: FakeSlurmRunner):
    fake.run(commands.add_account("mp_child", description="c", organization="p", parent="mp_a"))
    assert "still has child accounts" in refused(fake, commands.remove_account("mp_a")).stderr
    assert "root" in fake.accounts
    assert refused(fake, commands.remove_account("root")).stdout == " Nothing deleted\n"


def test_canned_answers_apply_once_and_change_nothing(fake: FakeSlurmRunner):
    fake.fail_next("boom", exit_code=2)
    fake.answer_next("odd\n")
    failed = fake.run(commands.remove_account("mp_a"))
    assert (failed.exit_code, failed.stderr) == (2, "boom")
    assert failed.argv == tuple(commands.remove_account("mp_a"))
    assert fake.run(commands.remove_account("mp_a")).stdout == "odd\n"
    assert "mp_a" in fake.accounts
    assert fake.run(commands.remove_account("mp_a")).exit_code == 0
    assert "mp_a" not in fake.accounts
    assert len(fake.calls) == 4  # the seeding add and these three


def test_an_unknown_program_is_not_found(fake: FakeSlurmRunner):
    assert fake.run(["scontrol", "ping"]).exit_code == 127


def test_sacct_refuses_unknown_fields_and_malformed_times(fake: FakeSlurmRunner):
    argv = commands.job_usage("mp_a", MAR_1, APR_1)
    bad_field = [a if not a.startswith("--format") else "--format=JobID,NodeList" for a in argv]
    assert "unknown field" in refused(fake, bad_field).stderr
    bad_time = [a if not a.startswith("--endtime") else "--endtime=April" for a in argv]
    assert "YYYY-MM-DDTHH:MM:SS" in refused(fake, bad_time).stderr
    assert "cluster 'elsewhere'" in refused(fake, [*argv, "--clusters=elsewhere"]).stderr
    fake.add_job("9", "MP_A", MAR_1, MAR_1.replace(hour=1), "cpu=2,mem=1G")
    fields = [a if not a.startswith("--format") else "--format=Account,JobID" for a in argv]
    assert fake.run(fields).stdout == "mp_a|9\n"
