"""A pre-warmed ``python`` for tests that run documented shell commands as written.

Every ``python -m evaluation ...`` spends ~7 s importing torch, Lightning and Hydra before it does
any work. ``serve`` imports those libraries once and then forks a child per request; ``install``
writes an executable named ``python`` (and ``python3``) for the front of PATH, so that bash runs
the command text unchanged: the shim sends its arguments, environment, working directory and
standard streams to the server, and exits with the child's status. The child runs the program as
the interpreter would (``-m module``, a script or ``-c code``, with the same ``sys.argv`` and
``sys.path[0]``). Anything else (other interpreter flags, a different value of a variable the
preloaded libraries read at import time, no server) runs the real interpreter instead.

    python tests/warm_python.py serve SOCKET   # the server (tests/test_docs_commands.py starts it)

Tests that run the command line themselves take ``session_python()``: one server per test
process, started on first use.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

PRELOAD = ("torch", "timm", "hydra", "omegaconf", "lightning.pytorch", "transformers")
# Variables the preloaded libraries read when imported: a command that sets them differently runs
# the real interpreter.
IMPORT_TIME_ENV = ("HF_", "TRANSFORMERS_", "TORCH", "PYTORCH_", "OMP_", "MKL_", "CUDA_", "PYTHON")
SHIM = """#!{python} -S
import sys
sys.path.insert(0, {here!r})
from warm_python import client
client({socket!r}, {python!r})
"""


_SESSION: dict[str, str] = {}


def session_python() -> str:
    """A ``python`` for subprocesses: a shim served by one server per test process (started on
    first use, stopped when the process exits), or the real interpreter if it cannot start."""
    if "python" in _SESSION:
        return _SESSION["python"]
    import atexit
    import subprocess
    import tempfile
    import time

    root = tempfile.mkdtemp(prefix="tasder-warm-")  # AF_UNIX paths are short
    sock = os.path.join(root, "python.sock")
    install(root, sock)
    server = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", sock],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # fmt: skip
    atexit.register(server.terminate)
    deadline = time.monotonic() + 120
    while not os.path.exists(sock) and server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    ready = os.path.exists(sock) and server.poll() is None
    _SESSION["python"] = os.path.join(root, "python") if ready else sys.executable
    return _SESSION["python"]


def install(directory, socket_path) -> None:
    """Write the ``python`` and ``python3`` shims into ``directory``."""
    here = os.path.dirname(os.path.abspath(__file__))
    text = SHIM.format(python=sys.executable, here=here, socket=str(socket_path))
    for name in ("python", "python3"):
        path = os.path.join(directory, name)
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, 0o755)


def _import_time_env(env: dict) -> dict:
    return {k: v for k, v in env.items() if k.startswith(IMPORT_TIME_ENV)}


def _request(argv: list[str]) -> dict | None:
    if len(argv) >= 2 and argv[0] in ("-m", "-c"):
        return {"mode": argv[0], "target": argv[1], "args": argv[2:]}
    if argv and not argv[0].startswith("-"):
        return {"mode": "script", "target": argv[0], "args": argv[1:]}
    return None


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed the connection")
        data += chunk
    return data


def client(socket_path: str, python: str) -> None:
    argv = sys.argv[1:]
    request = _request(argv)
    if request is not None:
        request.update(cwd=os.getcwd(), env=dict(os.environ))
        try:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect(socket_path)
        except OSError:
            request = None
    if request is None:
        os.execv(python, [python, *argv])
    payload = json.dumps(request).encode()
    socket.send_fds(conn, [len(payload).to_bytes(8, "big")], [0, 1, 2])
    conn.sendall(payload)
    reply = _recv_exactly(conn, 5)
    if reply[:1] == b"C":  # the server cannot stand in for this command
        os.execv(python, [python, *argv])
    sys.exit(int.from_bytes(reply[1:], "big", signed=True))


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _run(request: dict, set_by_preload: dict) -> int:
    """In the forked child: run the program as ``python`` would, return its exit status."""
    import atexit
    import runpy
    import traceback

    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.update(set_by_preload)  # as the libraries' imports would have set them
    mode, target, args = request["mode"], request["target"], request["args"]
    try:
        if mode == "-m":
            sys.argv, sys.path[0] = [target, *args], os.getcwd()
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        elif mode == "-c":
            sys.argv, sys.path[0] = ["-c", *args], ""
            exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
        else:
            sys.argv, sys.path[0] = [target, *args], os.path.dirname(os.path.abspath(target))
            runpy.run_path(target, run_name="__main__")
        code = 0
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    return code


def _start(conn: socket.socket, listener: socket.socket, base_env: dict, set_by_preload: dict):
    """Read a request and fork its child; None (after telling the client) if it must run cold."""
    header, fds, _, _ = socket.recv_fds(conn, 8, 3)
    request = json.loads(_recv_exactly(conn, int.from_bytes(header, "big")))
    if _import_time_env(request["env"]) != base_env or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        conn.sendall(b"C\0\0\0\0")
        conn.close()
        return None
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the server's handler is not the program's
        listener.close()
        conn.close()
        os.setpgid(0, 0)
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        os._exit(_run(request, set_by_preload))
    for fd in fds:
        os.close(fd)
    return pid


def serve(socket_path: str) -> None:
    """Preload, then serve requests until terminated; a client that goes away kills its child."""
    import importlib

    before = dict(os.environ)
    for name in PRELOAD:
        importlib.import_module(name)
    set_by_preload = {k: v for k, v in os.environ.items() if before.get(k) != v}
    base_env = _import_time_env(before)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path + ".new")
    listener.listen(16)
    os.rename(socket_path + ".new", socket_path)  # appears only when ready
    children: dict[int, socket.socket] = {}
    parent = os.getppid()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while os.getppid() == parent:  # pytest gone (even killed without teardown): stop
            _serve_once(listener, children, base_env, set_by_preload)
    finally:
        for pid in children:  # no child outlives the server
            _kill_group(pid)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _serve_once(listener, children: dict, base_env: dict, set_by_preload: dict) -> None:
    """Accept what is ready, kill the children of clients that went away, report the finished."""
    ready, _, _ = select.select([listener, *children.values()], [], [], 0.05)
    for sock in ready:
        if sock is listener:
            conn, _ = listener.accept()
            try:
                pid = _start(conn, listener, base_env, set_by_preload)
            except (OSError, ValueError):  # a client that left mid-request, or sent garbage
                conn.close()
                continue
            if pid is not None:
                children[pid] = conn
        else:  # a client closed its end before its child finished
            _kill_group(next(p for p, c in children.items() if c is sock))
    for pid, conn in list(children.items()):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code
            try:
                conn.sendall(b"S" + code.to_bytes(4, "big", signed=True))
            except OSError:
                pass
            conn.close()
            del children[pid]


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"] or len(sys.argv) != 3:
        sys.exit(__doc__)
    serve(sys.argv[2])
