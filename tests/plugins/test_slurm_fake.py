"""The fake Slurm answers like Slurm 22.05.

- Behaviour tests run on a :class:`Session`: the fake, and also the real Slurm when
  ``MARKETPLACE_SLURM_RUNNER=subprocess`` is set, with the same expected answers, so the
  fake cannot drift from what Slurm does unnoticed. The golden session's expected output was
  recorded on a real slurmdbd (``.ci/slurm/start.sh``).
- Strictness tests run on the fake only: where Slurm silently stores something other than
  what was written, the fake refuses, on purpose.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import attrs
import pytest

from marketplace_core.errors import NotFoundError
from marketplace_core.plugins.slurm import commands
from marketplace_core.plugins.slurm.accounts import BLOCKED, MAX_SLURM_LIMIT, TresLimits
from marketplace_core.plugins.slurm.client import (
    CommandResult,
    CommandRunner,
    SlurmClient,
    SubprocessRunner,
)
from marketplace_core.plugins.slurm.options import MAX_JOB_LIMIT
from marketplace_core.testing.slurm import FakeSlurmRunner
from tests.plugins.test_slurm import NEEDS_SLURM, REAL_CLUSTER, REAL_PREFIX, REAL_RUNNER

SACCTMGR = ["sacctmgr", "--immediate", "--parsable2", "--noheader"]
ASSOCIATION_FIELDS = "format=Account,User,GrpTRESMins,GrpTRES,GrpJobs,GrpSubmit"
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)
APR_1 = datetime(2026, 4, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- sessions


@attrs.define
class Session:
    """A Slurm to talk to: the fake (``fake`` set) or a real one. Account names the tests
    make start with ``prefix``; ``cluster`` is the cluster's name."""

    runner: CommandRunner
    prefix: str
    cluster: str
    fake: FakeSlurmRunner | None = None

    def sacctmgr(self, *words: str) -> CommandResult:
        return self.runner.run([*SACCTMGR, *words])

    def ok(self, *words: str) -> str:
        result = self.sacctmgr(*words)
        assert result.exit_code == 0, result
        return result.stdout

    def cleanup(self) -> None:
        if self.fake is None:
            client = SlurmClient(self.runner)
            for name in sorted(client.account_names()):
                if name.startswith(self.prefix):
                    client.remove_account(name)


@pytest.fixture(
    params=[
        "fake",
        pytest.param("subprocess", marks=pytest.mark.skipif(not REAL_RUNNER, reason=NEEDS_SLURM)),
    ]
)
def session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """The fake, and a real Slurm when one is configured (it must name its cluster)."""
    if request.param == "fake":
        fake = FakeSlurmRunner(cluster="testcluster")
        made = Session(fake, "zzt_", "testcluster", fake)
    else:
        if REAL_CLUSTER is None:
            pytest.skip("set MARKETPLACE_SLURM_CLUSTER to compare the fake with a real Slurm")
        runner = SubprocessRunner(prefix=REAL_PREFIX)
        made = Session(runner, f"zzt{secrets.token_hex(3)}_", REAL_CLUSTER)
    yield made
    made.cleanup()


# --------------------------------------------------------------------------- the golden session

# (command words after "sacctmgr --immediate --parsable2 --noheader", exit code, stdout), as
# a real Slurm 22.05 answered them; {a} is an account name, {c} the cluster. None: stdout not
# compared (it varies or does not matter).
GOLDEN_SESSION: list[tuple[str, int, str | None]] = [
    ("add account {a} Description=Project_A Organization=Org_A Cluster={c}", 0, None),
    ("add account {a} Description=Project_A Organization=Org_A", 1, " Nothing new added.\n"),
    ("list account where name={a} format=Account,Description,Organization", 0,
     "{a}|project_a|org_a\n"),
    ("modify account where name={a} cluster={c} set GrpTRESMins=cpu=600,gres/gpu=60", 0,
     " Modified account associations...\n  C = {c} A = {a} of root\n"),
    ("modify account where name={a} cluster={c} set GrpTRESMins=cpu=600,gres/gpu=60", 0,
     " Modified account associations...\n  C = {c} A = {a} of root\n"),
    (f"list association where account={{a}} {ASSOCIATION_FIELDS}", 0,
     "{a}||cpu=600,gres/gpu=60|||\n"),
    ("modify account where name={a} set GrpSubmitJobs=0 GrpJobs=0", 0, None),
    (f"list association where account={{a}} {ASSOCIATION_FIELDS}", 0,
     "{a}||cpu=600,gres/gpu=60||0|0\n"),
    ("modify account where name={a} set GrpSubmitJobs=-1 GrpJobs=-1", 0, None),
    ("modify account where name={a} set GrpTRESMins=cpu=-1,gres/gpu=-1 GrpTRES=fs/disk=5", 0,
     None),
    (f"list association where account={{a}} {ASSOCIATION_FIELDS}", 0, "{a}|||fs/disk=5||\n"),
    ("modify account where name={a}_nosuch set GrpTRESMins=cpu=1", 1, " Nothing modified\n"),
    # A cluster-scoped removal takes the association; the account record stays.
    ("remove account where name={a} cluster={c}", 0,
     " Deleting account associations...\n  C = {c} A = {a} of root\n"),
    ("list account where name={a} format=Account", 0, "{a}\n"),
    (f"list association where account={{a}} {ASSOCIATION_FIELDS}", 0, ""),
    ("modify account where name={a} set GrpJobs=1", 1, " Nothing modified\n"),
    ("remove account where name={a} cluster={c}", 1, " Nothing deleted\n"),
    # Adding it again brings the association back, fresh; the record keeps its labels.
    ("add account {a} Description=Other Organization=Other Cluster={c}", 0, None),
    ("list account where name={a} format=Account,Description,Organization", 0,
     "{a}|project_a|org_a\n"),
    (f"list association where account={{a}} {ASSOCIATION_FIELDS}", 0, "{a}|||||\n"),
    # Without a cluster the record goes too.
    ("remove account where name={a}", 0, " Deleting accounts...\n  {a}\n"),
    ("remove account where name={a}", 1, " Nothing deleted\n"),
    ("list account where name={a} format=Account", 0, ""),
]  # fmt: skip


def test_a_recorded_session_is_answered_as_slurm_answered_it(session: Session):
    account = f"{session.prefix}golden"
    for words, exit_code, stdout in GOLDEN_SESSION:
        filled = words.format(a=account, c=session.cluster).split(" ")
        result = session.sacctmgr(*filled)
        assert result.exit_code == exit_code, result
        if stdout is not None:
            assert result.stdout == stdout.format(a=account, c=session.cluster), result


# --------------------------------------------------------------------------- behaviour


def test_names_descriptions_and_organizations_are_kept_in_lower_case(session: Session):
    upper = f"{session.prefix}Mixed_Case".upper()
    session.ok("add", "account", upper, "Description=Big Run (X)", "Organization=Org-X")
    listed = session.ok(
        "list", "account", "where", f"name={upper}", "format=Account,Description,Organization"
    )
    assert listed == f"{upper.lower()}|big run (x)|org-x\n"


def test_removing_a_parent_takes_the_associations_below_it_but_not_their_records(
    session: Session,
):
    parent, child = f"{session.prefix}parent", f"{session.prefix}child"
    session.ok("add", "account", parent, "Description=p", "Organization=p")
    session.ok("add", "account", child, "Description=c", "Organization=c", f"Parent={parent}")
    session.ok("add", "user", "root", f"Account={child}")
    session.ok("remove", "account", "where", f"name={parent}")
    assert session.ok("list", "account", "where", f"name={parent}", "format=Account") == ""
    assert session.ok("list", "account", "where", f"name={child}", "format=Account") == (
        f"{child}\n"
    )
    listed = session.ok("list", "association", "where", f"account={child}", ASSOCIATION_FIELDS)
    assert listed == ""


def test_users_are_associations_of_an_account_and_go_with_it(session: Session):
    account = f"{session.prefix}users"
    session.ok("add", "account", account, "Description=u", "Organization=u")
    session.ok("add", "user", "root", f"Account={account}", f"Cluster={session.cluster}")
    listed = session.ok("list", "association", "where", f"account={account}", ASSOCIATION_FIELDS)
    assert listed == f"{account}|||||\n{account}|root||||\n"
    again = session.sacctmgr("add", "user", "root", f"Account={account}")
    assert (again.exit_code, again.stdout) == (1, " Nothing new added.\n")
    user_rows = session.ok(
        "list", "association", "where", f"account={account}", "user=root", "format=Account,User"
    )
    assert user_rows == f"{account}|root\n"
    session.ok("modify", "account", "where", f"name={account}", "set", "GrpJobs=3")
    # modify account changes the account's own association, not its users'
    listed = session.ok("list", "association", "where", f"account={account}", ASSOCIATION_FIELDS)
    assert listed == f"{account}||||3|\n{account}|root||||\n"
    removal = commands.remove_user("root", account, session.cluster)
    assert session.runner.run(removal).exit_code == 0
    gone = session.runner.run(removal)
    assert (gone.exit_code, gone.stdout) == (1, " Nothing deleted\n")
    session.ok("add", "user", "root", f"Account={account}")
    session.ok("remove", "account", "where", f"name={account}", f"cluster={session.cluster}")
    assert session.ok("list", "association", "where", f"account={account}", "user=root") == ""


def test_a_user_cannot_join_an_account_that_does_not_exist(session: Session):
    refused = session.sacctmgr("add", "user", "root", f"Account={session.prefix}nosuch")
    assert refused.exit_code == 1
    assert f"This account '{session.prefix}nosuch' doesn't exist." in refused.stderr


def test_a_cluster_that_does_not_exist(session: Session):
    account = f"{session.prefix}clusters"
    refused = session.sacctmgr(
        "add", "account", account, "Description=c", "Organization=c", "Cluster=zzt_nosuch"
    )
    assert refused.exit_code == 1
    assert "This cluster 'zzt_nosuch' doesn't exist." in refused.stderr
    session.ok("add", "account", account, "Description=c", "Organization=c")
    where = ["where", f"name={account}", "cluster=zzt_nosuch"]
    modified = session.sacctmgr("modify", "account", *where, "set", "GrpJobs=1")
    assert (modified.exit_code, modified.stdout) == (1, " Nothing modified\n")
    removed = session.sacctmgr("remove", "account", *where)
    assert (removed.exit_code, removed.stdout) == (1, " Nothing deleted\n")
    listed = session.ok("list", "association", "where", f"account={account}", "cluster=zzt_nosuch")
    assert listed == ""
    # The account record belongs to no cluster: listing it ignores the cluster.
    assert session.ok("list", "account", *where, "format=Account") == f"{account}\n"
    sacct = session.runner.run([*commands.job_usage(account, MAR_1, APR_1), "--clusters=zzt_x"])
    assert (sacct.exit_code, sacct.stdout) == (0, "")


def test_what_slurm_itself_refuses(session: Session):
    account = f"{session.prefix}refused"
    session.ok("add", "account", account, "Description=r", "Organization=r")
    parent = session.sacctmgr("add", "account", f"{account}_2", f"Parent={session.prefix}nobody")
    assert parent.exit_code == 1
    assert f"Parent account '{session.prefix}nobody' doesn't exist on cluster" in parent.stderr
    root = session.sacctmgr("remove", "account", "where", "name=root")
    assert root.exit_code == 1
    assert "You are not allowed to remove the root account." in root.stderr
    where = ["modify", "account", "where", f"name={account}", "set"]
    for setting, message in (
        ("GrpTRESMins=gres/zztnosuch=1", "Unknown option: GrpTRESMins=gres/zztnosuch=1"),
        ("GrpJobs=lots", "Invalid value for GrpJobs (lots)"),
    ):
        result = session.sacctmgr(*where, setting)
        assert result.exit_code == 1
        assert message in result.stderr
    unknown_field = session.sacctmgr("list", "account", "format=Account,Zzfield")
    assert unknown_field.exit_code == 1
    assert "Unknown field 'zzfield'" in unknown_field.stderr
    usage = commands.job_usage(account, MAR_1, APR_1)
    bad_field = [a if not a.startswith("--format") else "--format=JobID,ZzField" for a in usage]
    assert 'Invalid field requested: "ZzField"' in session.runner.run(bad_field).stderr
    unrecognized = session.runner.run(["sacct", "--zz-option"])
    assert unrecognized.exit_code == 1
    assert "unrecognized option '--zz-option'" in unrecognized.stderr
    bad_time = [a if not a.startswith("--endtime") else "--endtime=April" for a in usage]
    assert session.runner.run(bad_time).exit_code == 1


def test_the_largest_values_are_stored_and_minus_one_clears(session: Session):
    account = f"{session.prefix}largest"
    session.ok("add", "account", account, "Description=l", "Organization=l")
    client = SlurmClient(session.runner)
    client.set_tres_limits(account, TresLimits({"cpu": MAX_SLURM_LIMIT}, {"fs/disk": 1}))
    session.ok(
        "modify", "account", "where", f"name={account}", "set",
        f"GrpJobs={MAX_JOB_LIMIT}", f"GrpSubmitJobs={MAX_JOB_LIMIT}",
    )  # fmt: skip
    listed = session.ok("list", "association", "where", f"account={account}", ASSOCIATION_FIELDS)
    assert listed == (
        f"{account}||cpu={MAX_SLURM_LIMIT}|fs/disk=1|{MAX_JOB_LIMIT}|{MAX_JOB_LIMIT}\n"
    )
    client.set_tres_limits(account, TresLimits({"cpu": -1}, {"fs/disk": -1}))
    client.set_job_limits(account, BLOCKED)
    listed = session.ok("list", "association", "where", f"account={account}", ASSOCIATION_FIELDS)
    assert listed == f"{account}||||0|0\n"


# --------------------------------------------------------------------------- the fake only


@pytest.fixture
def fake() -> FakeSlurmRunner:
    runner = FakeSlurmRunner(known_tres=("cpu", "gres/gpu", "fs/disk"))
    runner.run(commands.add_account("mp_a", description="a", organization="p"))
    return runner


def refused(fake: FakeSlurmRunner, argv: list[str]) -> CommandResult:
    def state() -> tuple[str, str]:
        return repr(fake.accounts), repr(fake.associations)

    before = state()
    result = fake.run(argv)
    assert result.exit_code != 0, result
    assert state() == before
    return result


MODIFY_A = [*SACCTMGR, "modify", "account", "where", "name=mp_a", "set"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sacctmgr", "--parsable", "list", "account"], "unrecognized option '--parsable'"),
        (["sacctmgr", "--immediate", "list", "account"], "only --parsable2 --noheader"),
        (["sacctmgr", "modify", "account", "where", "name=mp_a", "set", "GrpJobs=0"],
         "without --immediate"),
        ([*MODIFY_A, "MaxWall=60"], "Unknown option: MaxWall=60 (the fake takes only"),
        ([*MODIFY_A, "GrpTRESMins=license/x=1"], "Unknown option: GrpTRESMins=license/x=1"),
        # Slurm stores cpu=5 for "5x", 5120 for "5k", 0 for "abc" and clears on any
        # negative, all with exit 0; the fake refuses what it would not keep as written.
        ([*MODIFY_A, "GrpTRESMins=cpu=5x"], "the fake refuses GrpTRESMins=cpu=5x"),
        ([*MODIFY_A, "GrpTRESMins=cpu=5,gres/gpu=5k"], "a TRES limit must be -1 (none) or"),
        ([*MODIFY_A, "GrpTRES=cpu=-2"], "the fake refuses GrpTRES=cpu=-2"),
        ([*MODIFY_A, f"GrpTRES=cpu={MAX_SLURM_LIMIT + 1}"], "the fake refuses GrpTRES="),
        # Slurm answers "Nothing modified" for GrpJobs=2**31, wraps 2**32 + 5 to 5.
        ([*MODIFY_A, f"GrpJobs={MAX_JOB_LIMIT + 1}"], "a job limit must be -1 (none) or"),
        ([*MODIFY_A, "GrpSubmit=-5"], "the fake refuses GrpSubmit=-5"),
        ([*SACCTMGR, "add", "account", "mp_b", "Parent=nobody"],
         "Parent account 'nobody' doesn't exist on cluster cluster"),
        ([*SACCTMGR, "add", "account", "mp_b", "Cluster=other"],
         "This cluster 'other' doesn't exist."),
        ([*SACCTMGR, "add", "account", "Description=x"], "Need name of account to add."),
        ([*SACCTMGR, "list", "account", "format=Account,Coordinators"],
         "Unknown field 'coordinators' (the fake prints only"),
        ([*SACCTMGR, "archive", "account"], "the fake does not know"),
        ([*SACCTMGR, "add", "qos", "fast"], "the fake does not know"),
        ([*SACCTMGR, "list", "user"], "the fake does not list users"),
        (["sacct", "--brief"], "unrecognized option '--brief'"),
        (["sacct", "--noheader", "--parsable2", "--accounts=a"], "the fake answers only"),
    ],
)  # fmt: skip
def test_what_the_fake_does_not_model_or_slurm_would_not_keep_is_refused(
    fake: FakeSlurmRunner, argv: list[str], message: str
):
    assert message in refused(fake, argv).stderr


def test_removal_is_refused_while_a_job_below_is_active(fake: FakeSlurmRunner):
    fake.run(commands.add_account("mp_child", description="c", organization="p", parent="mp_a"))
    fake.add_job("7", "mp_child", MAR_1)  # running
    fake.add_job("8", "mp_a", None, MAR_1)  # cancelled before it started
    for argv in (commands.remove_account("mp_a"), commands.remove_account("mp_a", "cluster")):
        message = refused(fake, argv).stderr
        assert message.startswith(" Error with request: Job(s) active, cancel job(s) before")
        assert "JobID = 7" in message
        assert "JobID = 8" not in message
    assert fake.end_job("7", APR_1).end == APR_1
    assert fake.run(commands.remove_account("mp_a")).exit_code == 0
    assert set(fake.associations) == {"root"}
    # Jobs of removed accounts stay visible to sacct.
    assert SlurmClient(fake).jobs("mp_child", MAR_1, APR_1)[0].job_id == "7"


def test_ending_an_unknown_job_is_refused(fake: FakeSlurmRunner):
    with pytest.raises(NotFoundError, match="fake Slurm job '99' does not exist"):
        fake.end_job("99", MAR_1)


def test_a_fresh_fake_has_root_with_its_root_user(fake: FakeSlurmRunner):
    listed = fake.run([*SACCTMGR, "list", "association", "where", "account=root"]).stdout
    assert listed == "root\nroot\n"
    assert fake.run([*SACCTMGR, "list", "account", "format=Account,Description"]).stdout == (
        "mp_a|a\nroot|default root account\n"
    )
    assert fake.account_names() == {"mp_a"}


def test_an_account_added_without_labels_gets_slurm_defaults(fake: FakeSlurmRunner):
    fake.run([*SACCTMGR, "add", "account", "mp_top"])
    fake.run([*SACCTMGR, "add", "account", "mp_sub", "Parent=mp_top"])
    listed = fake.run([*SACCTMGR, "list", "account", "format=Account,Description,Organization"])
    assert "mp_top|mp_top|mp_top\n" in listed.stdout
    assert "mp_sub|mp_sub|mp_top\n" in listed.stdout


def test_a_seeded_account_has_an_association(fake: FakeSlurmRunner):
    association = fake.add_account("HPC", parent="mp_a")
    assert (association.account, association.parent) == ("hpc", "mp_a")
    assert SlurmClient(fake).has_association("hpc")
    assert fake.accounts["hpc"].organization == "mp_a"


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


def test_sacct_reads_times_and_accounts_as_given(fake: FakeSlurmRunner):
    argv = commands.job_usage("mp_a", MAR_1, APR_1)
    bad_time = [a if not a.startswith("--endtime") else "--endtime=April" for a in argv]
    assert "YYYY-MM-DDTHH:MM:SS" in refused(fake, bad_time).stderr
    fake.add_job("9", "MP_A", MAR_1, MAR_1.replace(hour=1), "cpu=2,mem=1G")
    fields = [a if not a.startswith("--format") else "--format=Account,JobID" for a in argv]
    assert fake.run(fields).stdout == "mp_a|9\n"
    assert fake.run([*argv, "--clusters=cluster"]).stdout == "9|3600|cpu=2,mem=1G\n"
    assert fake.run([*argv, "--clusters=other"]).stdout == ""


def test_associations_are_listed_by_account_and_by_user(fake: FakeSlurmRunner):
    client = SlurmClient(fake)
    for user in ("alice", "bob"):
        client.add_user(user, "mp_a")
    listed = fake.run(
        [*SACCTMGR, "list", "association", "where", "user=bob", "format=Account,User"]
    )
    assert listed.stdout == "mp_a|bob\n"
    everyone = fake.run([*SACCTMGR, "list", "association", "format=Account,User"]).stdout
    assert everyone == "root|\nroot|root\nmp_a|\nmp_a|alice\nmp_a|bob\n"
