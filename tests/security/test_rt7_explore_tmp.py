from __future__ import annotations
import json, os
from pathlib import Path
import docker, pytest
from mcp import Client
from tests.conftest import RUN_ID, text_of, LABEL
from tests.integration.test_devcontainers import DOCKERFILE, containers_of, built_images, image_config, write_project
from tests.security.test_red_team_devcontainer import cleanup, compose_leftovers, canary_file, up, everything_about
from tests.security.test_red_team_6 import published_on, unconfined_ok
pytestmark = [pytest.mark.anyio, pytest.mark.docker]

@pytest.mark.parametrize("run_args", [["-p", ":9993:80"], ["--publish=:9992:80"], ["-P=true"], ["--publish-all=true"], ["-tP"]])
async def test_ports(client, tmp_path, test_image, docker_client, cleanup, run_args):
    folder = write_project(tmp_path / "pp", image_config(test_image, runArgs=run_args))
    cleanup.append(folder)
    r = await up(client, folder)
    print(run_args, r.is_error, text_of(r)[:300], published_on(docker_client, folder))

@pytest.mark.parametrize("opt", ["seccomp:{p}", "--security-opt=seccomp={p}"])
async def test_seccomp(unconfined_ok, tmp_path, test_image, docker_client, cleanup, opt):
    secret = f"sc-{RUN_ID}"
    path = canary_file(tmp_path, ".docker/config.json", json.dumps({"auths": {"r": {"auth": secret}}}))
    if opt.startswith("--"):
        cfg = image_config(test_image, runArgs=[opt.format(p=path)])
    else:
        cfg = image_config(test_image, runArgs=["--security-opt", opt.format(p=path)])
    folder = write_project(tmp_path / "sc", cfg)
    cleanup.append(folder)
    r = await up(unconfined_ok, folder)
    print(opt, r.is_error, text_of(r)[:300], secret in everything_about(docker_client, folder))
