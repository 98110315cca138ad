"""The model servers' sandbox: bubblewrap, one sandbox per model server.

Loading a model runs its code, so a model server runs in an unprivileged Linux sandbox of its own
(``/usr/bin/bwrap``, Debian's ``bubblewrap``): new user, pid, ipc, uts, cgroup and network
namespaces, a non-root uid inside, no capabilities, a session of its own, killed when the runtime
goes. It sees, read-only, only what running a Python model needs: its own model folder at
``/model``, the portal's Python environment (the virtualenv and the base interpreter's prefix),
``/usr`` and the ``/lib*`` links, and a few files of ``/etc`` (the dynamic linker's cache, the
time zone, CA certificates). It writes only to a private ``/tmp`` and home (both tmpfs) and to
its own socket folder, where its server listens on a Unix socket; its network namespace has no
interface but its own loopback. So the portal's ``var/`` (database, secrets, other units' models and
sockets), other processes' ``/proc`` and every TCP service of the host are out of its reach.

``SERVING_SANDBOX=off`` runs model servers without it, with the portal's own rights; the runtime
refuses to start when the sandbox cannot start and that was not said explicitly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BWRAP = "/usr/bin/bwrap"
# The sandbox's own user: ``nobody``, mapped onto the portal's user outside, so the bind mounts
# of the portal's private (0700/0600) files stay readable to it and nothing else is.
SANDBOX_UID = 65534
MODEL_DIR = "/model"
SOCKET_DIR = "/run/model-server"
CODE_DIR = "/opt/portal-model-server"
HOME_DIR = "/home/model"

# Read-only pieces of /etc a Python model may need; the rest (passwd, hosts, TLS private keys,
# the portal's configuration) stays out.
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/ssl/certs",
    "/etc/ssl/openssl.cnf",
    "/etc/ca-certificates",
)
TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")

OFF_WARNING = (
    "SERVING_SANDBOX=off: model servers run WITHOUT a sandbox, as the portal's own user. Code "
    "inside a model (loading a model runs it) can read the portal's database and secrets, other "
    "units' models and processes, and reach every service on this host. Use it only where no "
    "unit's model is untrusted."
)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here."""


def python_roots() -> list[Path]:
    """The folders the portal's Python lives in: the virtualenv and the base interpreter."""
    roots: list[Path] = []
    for prefix in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix):
        path = Path(os.path.realpath(prefix))
        if path == Path("/usr") or Path("/usr") in path.parents or path in roots:
            continue
        roots.append(path)
    return roots


def python_executable() -> str:
    """The interpreter a sandboxed server runs: the virtualenv's, by its real path."""
    return str(Path(os.path.realpath(sys.prefix)) / "bin" / Path(sys.executable).name)


def _system_arguments() -> list[str]:
    arguments = ["--ro-bind", "/usr", "/usr"]
    for name in TOP_LEVEL:
        path = Path("/") / name
        if path.is_symlink():
            arguments += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            arguments += ["--ro-bind", str(path), str(path)]
    for item in ETC_FILES:
        arguments += ["--ro-bind-try", item, item]
    for root in python_roots():
        arguments += ["--ro-bind", str(root), str(root)]
    return arguments


def _isolation_arguments() -> list[str]:
    arguments = [
        "--unshare-all",
        # Explicitly: a refused user namespace is an error, never a sandbox without one.
        "--unshare-user",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "model-server",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        # Private tmpfs mounts inside the sandbox, not the host's shared folders.
        "--tmpfs",
        "/dev/shm",  # noqa: S108
        "--tmpfs",
        "/tmp",  # noqa: S108
        "--tmpfs",
        HOME_DIR,
    ]
    if _supports("--disable-userns"):
        arguments.append("--disable-userns")
    return arguments


_supported: dict[str, bool] = {}


def _supports(option: str) -> bool:
    if option not in _supported:
        try:
            shown = subprocess.run(
                [BWRAP, "--help"], capture_output=True, text=True, timeout=10, check=False
            )
            _supported[option] = option in shown.stdout + shown.stderr
        except (OSError, subprocess.SubprocessError):
            _supported[option] = False
    return _supported[option]


def bwrap_command(
    *, model: Path, socket_dir: Path, code_dir: Path, command: list[str]
) -> list[str]:
    """``command`` inside a sandbox that sees ``model`` at ``/model`` (read-only), the server's
    code at ``/opt/portal-model-server`` (read-only) and ``socket_dir`` at
    ``/run/model-server`` (the one folder it may write to that outlives it)."""
    return [
        BWRAP,
        *_isolation_arguments(),
        *_system_arguments(),
        "--ro-bind",
        str(model),
        MODEL_DIR,
        "--ro-bind",
        str(code_dir),
        CODE_DIR,
        "--bind",
        str(socket_dir),
        SOCKET_DIR,
        "--chdir",
        HOME_DIR,
        "--",
        *command,
    ]


def probe() -> None:
    """Start one trivial sandbox; raises ``SandboxUnavailable`` with the reason when it fails."""
    if not os.access(BWRAP, os.X_OK):
        raise SandboxUnavailable(
            f"{BWRAP} is not installed (Debian package 'bubblewrap'). Install it, or set "
            "SERVING_SANDBOX=off to run model servers without a sandbox."
        )
    command = [BWRAP, *_isolation_arguments(), *_system_arguments(), "--", "/usr/bin/true"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        raise SandboxUnavailable(_refusal(str(error))) from error
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise SandboxUnavailable(_refusal(lines[-1] if lines else f"exit code {done.returncode}"))


def _refusal(reason: str) -> str:
    return (
        f"bubblewrap cannot start a sandbox here ({reason}). Allow unprivileged user namespaces "
        "(sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0; in a "
        "container, a seccomp profile that allows them), or set SERVING_SANDBOX=off to run model "
        "servers without a sandbox."
    )
