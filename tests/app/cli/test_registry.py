from leanspike.registry import Registry


def test_registry_cli_end_to_end(tmp_path, cli, tiny_spec, monkeypatch):
    reg_path = str(tmp_path / "reg")
    code, out, _ = cli("train-ann", "--epochs", "3", "--no-progress", "--arch", "mlp",
                       "--model-arg", "hidden=[16]", "--register", "digits", "--registry",
                       reg_path)
    assert code == 0 and "registered as digits:1" in out
    reg = Registry(reg_path)
    reg.register("digits", tiny_spec(), parent="digits:1", metrics={"accuracy": 0.5},
                 tags=["T2"])

    code, out, _ = cli("registry", "list", "--registry", reg_path)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["entry", "stage", "kind", "T"]
    assert lines[2].startswith("digits:1") and " ann " in lines[2]
    assert lines[3].startswith("digits:2") and "digits:1" in lines[3] and "0.5000" in lines[3]

    code, out, _ = cli("registry", "list", "--registry", reg_path, "--tag", "T2")
    assert code == 0 and "digits:2" in out and "digits:1 " not in out.splitlines()[2][:9]

    code, out, _ = cli("registry", "show", "digits@ann", "--registry", reg_path)
    assert code == 0 and "artifact model.safetensors" in out and "children" in out
    assert "param arch" in out and '"mlp"' in out

    monkeypatch.setenv("LEANSPIKE_REGISTRY", reg_path)  # the default location
    code, out, _ = cli("registry", "lineage", "digits")
    assert code == 0
    assert [line.split()[1] for line in out.splitlines()[2:]] == ["digits:1", "digits:2"]

    code, out, _ = cli("registry", "verify")
    assert code == 0 and "2 entries checked, every artifact intact" in out

    archive = tmp_path / "digits.tar.gz"
    code, out, _ = cli("registry", "export", "digits:2", str(archive))
    assert code == 0 and "with 1 ancestor(s)" in out
    code, out, _ = cli("registry", "import", str(archive), "--registry",
                       str(tmp_path / "other"))
    assert code == 0 and "digits:2 (lineage digits:2 <- digits:1)" in out

    code, _, err = cli("registry", "rm", "digits:1")
    assert code == 2 and "has descendants (digits:2)" in err
    code, out, _ = cli("registry", "rm", "digits:1", "--force")
    assert code == 0 and "removed digits:1, digits:2" in out

    code, _, err = cli("registry", "show", "nope:1")
    assert code == 2 and "no entry nope:1" in err
    code, _, err = cli("registry", "show", "../x")
    assert code == 2 and "invalid name" in err


def test_verify_reports_corruption_with_exit_status(tmp_path, cli, tiny_spec):
    reg = Registry(tmp_path)
    entry = reg.register("m", tiny_spec())
    path = reg.store.path(entry.artifacts["spec.json"])
    path.write_bytes(path.read_bytes().replace(b"LIF", b"LIX"))
    code, out, _ = cli("registry", "verify", "--registry", str(tmp_path))
    assert code == 1 and "m:1" in out and "corrupt" in out and str(path) in out
