"""The `crumbs` command line, as a person uses it (click's runner, in process)."""

import json

import pytest
from click.testing import CliRunner

from companion.cli import main

GA = "https://www.google-analytics.com/analytics.js"


@pytest.fixture
def run(tmp_path):
    runner = CliRunner()
    # A folder the person made: a named one that does not exist is refused (only serve and setup make one).
    (tmp_path / "data").mkdir()

    def invoke(*args):
        return runner.invoke(main, [*args, "--data-dir", str(tmp_path / "data")] if args and args[0] != "--help"
                             else list(args), catch_exceptions=False)
    return invoke


def command_names():
    return sorted(main.commands)


@pytest.mark.parametrize("name", command_names())
def test_every_command_says_what_it_does(name):
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    assert len(result.output.splitlines()) > 2
    doc = main.commands[name].help or ""
    assert doc.strip(), f"{name} has no help text"


def test_check_explains_the_verdict(run):
    result = run("check", GA, "--page", "https://www.news.example/story", "--type", "script")
    assert result.exit_code == 0
    assert "Google" in result.output and "BLOCKED" in result.output and "list-default" in result.output


def test_check_json_prints_the_verdict_object(run):
    result = run("check", GA, "--page", "https://www.news.example/", "--json")
    v = json.loads(result.output)
    assert v["tracker"] is True and v["owner"] == "Google" and v["decided_by"] == "list-default"


def test_check_refuses_bad_input_with_a_message(run):
    result = run("check", "javascript:alert(1)", "--page", "https://news.example/")
    assert result.exit_code != 0 and "scheme" in result.output
    result = run("check", GA, "--page", "https://news.example/", "--type", "bogus")
    assert result.exit_code != 0 and "unknown request type" in result.output


def test_block_allow_trust_change_the_verdict_in_precedence_order(run):
    def decided():
        v = json.loads(run("check", GA, "--page", "https://news.example/", "--json").output)
        return v["blocked"], v["decided_by"]

    assert decided() == (True, "list-default")
    assert run("allow", "www.google-analytics.com").exit_code == 0
    assert decided() == (False, "tracker-everywhere")
    assert run("trust", "news.example", "--for", "hour").exit_code == 0
    assert run("block", "google-analytics.com").exit_code == 0
    assert decided() == (False, "site-trust")
    assert run("block", "google-analytics.com", "--on", "https://news.example/x").exit_code == 0
    assert decided() == (True, "site-tracker")
    listed = run("choices").output
    assert "google-analytics.com  on news.example" in listed and "trust  news.example" in listed
    as_json = json.loads(run("choices", "--json").output)
    assert as_json["everywhere"][0] == {**as_json["everywhere"][0], "tracker": "google-analytics.com", "action": "block"}
    run("reset", "google-analytics.com", "--on", "news.example")
    run("untrust", "news.example")
    run("reset", "google-analytics.com")
    assert decided() == (True, "list-default")
    assert "No choices yet" in run("choices").output


@pytest.mark.parametrize("args", [("block", "com"), ("trust", "co.uk"), ("allow", "doubleclick.net", "--on", "com"),
                                  ("block", "https://github.io/")])
def test_a_public_suffix_is_refused_in_one_line(run, args):
    result = run(*args)
    assert result.exit_code != 0
    assert result.output.strip().count("\n") == 0 and "is a public suffix (a top-level domain)" in result.output
    assert "No choices yet" in run("choices").output


def test_a_public_suffix_has_no_owner_in_check(run):
    result = run("check", "https://com/", "--page", "https://a.example/")
    assert result.exit_code == 0 and "Google" not in result.output


def test_bad_domain_is_a_usage_error(run):
    result = run("block", "not a domain!")
    assert result.exit_code == 2 and "not a tracker domain" in result.output


def test_token_is_stable_and_pair_prints_a_code(run):
    first, second = run("token").output.strip(), run("token").output.strip()
    assert first == second and len(first) >= 43
    assert "Pairing code:" in run("pair").output


def test_check_says_when_the_browsers_rules_cannot_express_the_blocking_filter(run, tmp_path):
    # The engine blocks with an entity-domain filter; declarativeNetRequest has no form for it, so the browser
    # lets the request through: "=> BLOCKED" would be untrue.
    listed = tmp_path / "entity.txt"
    listed.write_text("[Adblock Plus 2.0]\n||entity-tracker.example^$domain=news-entity.*\n")
    assert run("lists", "add", str(listed)).exit_code == 0
    result = run("check", "https://entity-tracker.example/p.gif", "--page", "https://www.news-entity.com/",
                 "--type", "image")
    assert result.exit_code == 0, result.output
    assert "BLOCKED" not in result.output
    assert "the browser's rules cannot express this filter: the browser lets it through" in result.output
    assert run("check", GA, "--page", "https://www.news.example/", "--type", "script").output.count("=> BLOCKED") == 1


# -- a named data folder that does not exist --------------------------------------------------------------
# A mistyped --data-dir (or CRUMBS_HOME) made a new folder with a database, a token and a `.has-data`
# marker, and the command answered from it ("No choices yet", a brand-new token) as if all were well.

MAKE_A_FOLDER = {"serve", "setup"}  # how a person makes a data folder (setup: before any companion ran there)
ARGS = {
    "check": ["check", GA, "--page", "https://news.example/"], "allow": ["allow", "tracker.example"],
    "block": ["block", "tracker.example"], "reset": ["reset", "tracker.example"], "trust": ["trust", "news.example"],
    "untrust": ["untrust", "news.example"], "open": ["open", "--print"],
    "lists add": ["lists", "add", "easyprivacy"], "lists enable": ["lists", "enable", "easylist"],
    "lists disable": ["lists", "disable", "easylist"], "lists remove": ["lists", "remove", "easylist"],
    "sources add": ["sources", "add", "disconnect"], "sources remove": ["sources", "remove", "disconnect"],
    "restore --list": ["restore", "--list"],
}


def every_command() -> list[str]:
    names = []
    for name, command in sorted(main.commands.items()):
        names.append(name)
        names += [f"{name} {sub}" for sub in sorted(getattr(command, "commands", {}))]
    return names + ["restore --list"]


@pytest.mark.parametrize("name", [n for n in every_command() if n not in MAKE_A_FOLDER])
@pytest.mark.parametrize("how", ["--data-dir", "CRUMBS_HOME"])
def test_every_command_but_serve_and_setup_refuses_a_data_folder_that_does_not_exist(name, how, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ARGS.get(name, name.split())
    typo = tmp_path / "crumbs-dta"
    if how == "--data-dir":
        result = CliRunner().invoke(main, [*args, "--data-dir", str(typo)])
    else:
        result = CliRunner().invoke(main, args, env={"CRUMBS_HOME": str(typo)})
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(typo) in lines[0] and how in lines[0], result.output
    assert f"crumbs serve --data-dir {typo}" in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing was created, anywhere


def test_a_relative_data_folder_is_looked_for_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["token", "--data-dir", "typo"])
    assert result.exit_code == 1 and "there is no data folder typo" in result.output
    (tmp_path / "typo").mkdir()
    assert CliRunner().invoke(main, ["token", "--data-dir", "typo"]).exit_code == 0


def test_the_default_data_folder_is_still_made_by_the_first_command(tmp_path, monkeypatch):
    import platformdirs

    monkeypatch.delenv("CRUMBS_HOME", raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "default"))
    result = CliRunner().invoke(main, ["choices"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "default" / "crumbs.sqlite3").exists()


# -- --data-dir before the command's name ------------------------------------------------------------------


def test_data_dir_is_taken_before_the_command_name_too(tmp_path):
    data, other = tmp_path / "data", tmp_path / "other"
    data.mkdir()
    other.mkdir()
    runner = CliRunner(env={"CRUMBS_HOME": str(other)})  # named on the command line, the folder beats CRUMBS_HOME
    assert runner.invoke(main, ["--data-dir", str(data), "block", "tracker.example"]).exit_code == 0
    after = runner.invoke(main, ["choices", "--data-dir", str(data)])
    assert after.exit_code == 0 and "tracker.example" in after.output, after.output
    before = runner.invoke(main, ["--data-dir", str(data), "choices"])
    assert before.exit_code == 0 and before.output == after.output
    assert "tracker.example" not in runner.invoke(main, ["choices"]).output  # CRUMBS_HOME's folder: untouched
    missing = runner.invoke(main, ["--data-dir", str(tmp_path / "typo"), "choices"])
    assert missing.exit_code == 1 and "there is no data folder" in missing.output
    assert not (tmp_path / "typo").exists()


def test_data_dir_given_to_a_group_reaches_its_subcommand(tmp_path):
    # `crumbs lists --data-dir X add FILE` added the list to CRUMBS_HOME's (or the default) folder: the
    # group took the option and its subcommand never saw it.
    data, other = tmp_path / "data", tmp_path / "other"
    data.mkdir()
    other.mkdir()
    mine = tmp_path / "mine.txt"
    mine.write_text("! mine\n||cli-local.example^\n")
    runner = CliRunner(env={"CRUMBS_HOME": str(other)})
    added = runner.invoke(main, ["lists", "--data-dir", str(data), "add", str(mine), "--name", "mine"])
    assert added.exit_code == 0, added.output
    assert "mine  (enabled)" in runner.invoke(main, ["lists", "--data-dir", str(data)]).output
    assert "mine" not in runner.invoke(main, ["lists"]).output


def test_data_dir_given_twice_must_name_one_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere").mkdir()
    same = CliRunner().invoke(main, ["--data-dir", "data", "choices", "--data-dir", str(tmp_path / "data")])
    assert same.exit_code == 0, same.output
    two = CliRunner().invoke(main, ["--data-dir", "data", "lists", "--data-dir", "elsewhere"])
    assert two.exit_code == 1 and two.output.strip().splitlines() == [
        "Error: --data-dir names two folders, data and elsewhere; give it once"]
