"""Settings read the environment strictly; production settings pass `check --deploy`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int

ROOT = Path(__file__).resolve().parents[2]
FERNET_KEY = "q4VwW0n0yJk3m0Pq7eH8l1s2rT5uX9zA6bC3dE4fG0o="


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_bool_is_strict(monkeypatch):
    monkeypatch.setenv("X_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG", False)
    monkeypatch.setenv("X_FLAG", "on")
    assert env_bool("X_FLAG", False) is True


def test_int_is_strict(monkeypatch):
    monkeypatch.setenv("X_NUM", "12a")
    with pytest.raises(ImproperlyConfigured):
        env_int("X_NUM", 1)


def test_secret_from_file(monkeypatch, tmp_path):
    from config.env import env_str

    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret))
    assert env_str("SOME_SECRET") == "from-a-file"


def serve(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Load the WSGI application the way gunicorn does."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run([sys.executable, "-c", "import config.wsgi"], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_secret_key_required_to_serve_without_debug(tmp_path):
    env = {"DEBUG": "0", "ATELIER_VAR_DIR": str(tmp_path), "ATELIER_ENCRYPTION_KEYS": FERNET_KEY}
    result = serve(env)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr
    deploy = run_manage("check", "--deploy", env=env)
    assert deploy.returncode != 0 and "atelier.E000" in deploy.stderr


def test_offline_commands_run_without_production_secrets(tmp_path):
    # Migrations can be checked and applied in a build step that holds no secrets.
    result = run_manage("makemigrations", "--check", "--dry-run", env={"ATELIER_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        "DEBUG": "0",
        "SECRET_KEY": "x7!kq2-production-like-secret-key-with-enough-entropy-9fz3m1p0w8v6",
        "ALLOWED_HOSTS": "atelier.example.com",
        "ATELIER_VAR_DIR": str(tmp_path),
        "ATELIER_ENCRYPTION_KEYS": FERNET_KEY,
        "METRICS_TOKEN": "metrics-bearer-token-for-the-scraper-0123456789",
    }
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    without_metrics = run_manage("check", "--deploy", "--fail-level", "WARNING",
                                 env={k: v for k, v in env.items() if k != "METRICS_TOKEN"})
    assert without_metrics.returncode != 0 and "atelier.W010" in without_metrics.stderr + without_metrics.stdout


def test_s3_storage_selected_when_bucket_set(tmp_path):
    env = {"DEBUG": "1", "AWS_STORAGE_BUCKET_NAME": "atelier-media", "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
           "ATELIER_VAR_DIR": str(tmp_path)}
    code = ("from django.conf import settings; s = settings.STORAGES; "
            "print(s['default']['BACKEND'], s['default']['OPTIONS']['endpoint_url'], "
            "s['private']['OPTIONS']['location'])")
    result = run_manage("shell", "--no-imports", "-c", code, env=env)
    assert result.stdout.split() == ["storages.backends.s3.S3Storage", "http://127.0.0.1:9000", "private"]


def test_embedded_broker_by_default_and_redis_when_set(tmp_path):
    code = "from django.conf import settings; print(settings.CELERY_BROKER_URL)"
    default = run_manage("shell", "--no-imports", "-c", code, env={"DEBUG": "1", "ATELIER_VAR_DIR": str(tmp_path)})
    assert default.stdout.strip() == "filesystem://"
    folders = ("from django.conf import settings; o = settings.CELERY_BROKER_TRANSPORT_OPTIONS; "
               "print(*(o[k] for k in ('data_folder_in', 'data_folder_out', 'processed_folder', 'control_folder')))")
    written = run_manage("shell", "--no-imports", "-c", folders, env={"DEBUG": "1", "ATELIER_VAR_DIR": str(tmp_path)})
    paths = [Path(p) for p in written.stdout.split()]
    assert len(paths) == 4 and all(p.is_relative_to(tmp_path / "broker") and p.is_dir() for p in paths)
    redis = run_manage("shell", "--no-imports", "-c", code, env={"DEBUG": "1", "ATELIER_VAR_DIR": str(tmp_path),
                                                 "REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert redis.stdout.strip() == "redis://127.0.0.1:6379/3"


def test_production_refuses_to_start_without_encryption_keys(tmp_path):
    env = {"DEBUG": "0", "SECRET_KEY": "x7!kq2-production-like-secret-key-with-enough-entropy-9fz3m1p0w8v6",
           "ALLOWED_HOSTS": "atelier.example.com", "ATELIER_VAR_DIR": str(tmp_path)}
    result = serve(env)
    assert result.returncode != 0
    assert "atelier.E001" in result.stderr
    assert "atelier.E001" in run_manage("check", "--deploy", env=env).stderr
    assert serve({**env, "ATELIER_ENCRYPTION_KEYS": FERNET_KEY}).returncode == 0
