from bltlib import envcheck


def test_this_environment_meets_every_requirement():
    report = envcheck.check_environment()
    failed = [str(item) for item in report if not item.ok]
    assert not failed, failed
    names = {item.name for item in report}
    assert {"python", "torch", "plotly", "ipywidgets", "widget extension", "vendored corpora"} <= names


def test_a_missing_package_fails_with_advice():
    item = envcheck.check_package("no_such_package_xyz", "1.0")
    assert not item.ok and str(item).startswith("[FAIL] no_such_package_xyz") and "make lab" in item.detail


def test_a_too_old_package_fails():
    item = envcheck.check_package("numpy", "999.0")
    assert not item.ok and "need >= 999.0" in item.detail


def test_main_returns_nonzero_on_failure(monkeypatch, capsys):
    monkeypatch.setitem(envcheck.REQUIRED, "no_such_package_xyz", "1.0")
    assert envcheck.main() == 1
    assert "Fix these first: no_such_package_xyz" in capsys.readouterr().out
