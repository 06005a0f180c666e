"""Several processes of the app behind nginx: one command, for a class that outgrows one process.

    python -m scripts.serve_cluster --apps 2 --port 8500                   # http://127.0.0.1:8500
    python -m scripts.serve_cluster --apps 4 --port 8500 --listen 0.0.0.0  # the class reaches it too

starts K Streamlit processes of app.py on 127.0.0.1 (ports --port+1 ... --port+K), waits until each
answers, then runs Debian's nginx in the foreground with deploy/nginx.conf and deploy/nginx-site.conf
filled in: sticky sessions by a cookie, websockets passed through (README: "More than one server").
Ctrl-C or SIGTERM stops nginx and every app process it started, and whatever those started, by
process id. If one of them ends by itself, the others are stopped too and the exit code is 1.

On several machines, the same files (README):

    python -m scripts.serve_cluster --apps 2 --app-address 0.0.0.0 --no-balancer     # each app machine
    python -m scripts.serve_cluster --apps 0 --upstream 10.0.0.11:8501 --upstream 10.0.0.11:8502 \\
        --upstream 10.0.0.12:8501 --upstream 10.0.0.12:8502 --listen 0.0.0.0 --port 80   # the balancer
    python -m scripts.serve_cluster --upstream ... --print-config   # the site file for a system nginx

Each app process gets NN_MAX_TRAINING = cores / K (at least 1) unless it is set, so that the
machine's training runs stay within its cores, and one BLAS thread (OPENBLAS_NUM_THREADS=1).
"""
from __future__ import annotations

import argparse
import contextlib
import grp
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from scripts.proctree import Seen, descendants, die_with_parent, terminate

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
MAX_APPS = 32
NGINX_TEMP = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def fill(template: Path, **values: str) -> str:
    """A template of deploy/ with each @@NAME@@ replaced by values["NAME"]."""
    text = template.read_text()
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    left = re.findall(r"@@[A-Z_]+@@", text)
    if left:
        raise ValueError(f"{template.name}: {', '.join(left)} left unfilled")
    return text


def site_config(listen: str, upstreams: list[str]) -> str:
    """deploy/nginx-site.conf for these app addresses (host:port each)."""
    servers = "\n".join(f"    server {u} max_fails=1 fail_timeout=5s;" for u in upstreams)
    return fill(DEPLOY / "nginx-site.conf", LISTEN=listen, SERVERS=servers)


def app_env(n_apps: int) -> dict[str, str]:
    """The environment of each app process of this machine."""
    env = dict(os.environ)
    env.setdefault("NN_MAX_TRAINING", str(max(1, (os.cpu_count() or 1) // max(1, n_apps))))
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    # one secret for every process: a signed cookie one of them set is valid for all of them
    env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
    return env


def start_app(address: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    """One `streamlit run app.py`, in its own session (Ctrl-C reaches this script, which stops it);
    it ends too if this script is killed. Its output goes to this script's (its own lines name its
    port)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", address, "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, start_new_session=True, preexec_fn=die_with_parent)  # noqa: PLW1509 (only a prctl call)
    return proc


def free_ports(n: int) -> int:
    """A port P of 127.0.0.1 with P ... P+n-1 all free: one for a server of a test or a script, or n in a
    row, as --port wants them for nginx and the K app processes."""
    for _ in range(200):
        first = random.randint(20_000, 60_000)
        with contextlib.ExitStack() as held:
            try:
                for port in range(first, first + n):
                    held.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
            return first
    raise RuntimeError(f"no {n} free ports in a row on 127.0.0.1")


def healthy(url: str) -> bool:
    with contextlib.suppress(OSError):
        return urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok"
    return False


def wait_healthy(urls: list[str], procs: list[subprocess.Popen], stopping: threading.Event,
                 timeout: float = 90.0) -> None:
    """Until every URL's /_stcore/health answers ok; RuntimeError if a process ends, Ctrl-C is
    pressed or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    waiting = list(urls)
    while waiting:
        if stopping.is_set():
            raise RuntimeError("stopped while starting")
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a process ended while starting (its output is above)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer from {', '.join(waiting)} after {timeout:.0f} s")
        waiting = [u for u in waiting if not healthy(u)]
        time.sleep(0.2)


def nginx_run_dir(listen: str, upstreams: list[str]) -> Path:
    """A private folder with the filled-in configs and nginx's temporary folders. As root, nginx's
    workers run as 'nobody': they own the temporary folders."""
    run = Path(tempfile.mkdtemp(prefix="nn-cluster-"))
    run.chmod(0o755)
    user = ""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        user = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
    for name in NGINX_TEMP:
        (run / name).mkdir()
        if user:
            os.chown(run / name, nobody.pw_uid, nobody.pw_gid)
    (run / "site.conf").write_text(site_config(listen, upstreams))
    (run / "nginx.conf").write_text(fill(DEPLOY / "nginx.conf", RUN_DIR=str(run), USER=user))
    return run


def find_nginx(given: str | None) -> str:
    for candidate in (given, shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("nginx not found: on Debian `apt-get install -y nginx`, or give --nginx PATH")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.serve_cluster", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--apps", type=int, default=2, help=f"app processes on this machine (0-{MAX_APPS})")
    parser.add_argument("--port", type=int, default=8500, help="nginx's port (the address learners open)")
    parser.add_argument("--listen", default="127.0.0.1",
                        help="nginx's address: 127.0.0.1 (this machine only) or 0.0.0.0 (the network)")
    parser.add_argument("--first-app-port", type=int,
                        help="the first app process's port (default: --port + 1), the next ones follow")
    parser.add_argument("--app-address", default="127.0.0.1",
                        help="the app processes' address: 0.0.0.0 when nginx runs on another machine")
    parser.add_argument("--upstream", action="append", default=[], metavar="HOST:PORT",
                        help="an app process on another machine (repeat for each)")
    parser.add_argument("--no-balancer", action="store_true", help="start the app processes only")
    parser.add_argument("--print-config", action="store_true",
                        help="print the nginx site file for these app processes and exit")
    parser.add_argument("--nginx", help="the nginx binary (default: nginx on the PATH, /usr/sbin/nginx)")
    args = parser.parse_args(argv)
    if not 0 <= args.apps <= MAX_APPS:
        parser.error(f"--apps must be between 0 and {MAX_APPS}, got {args.apps}")
    if args.apps == 0 and not args.upstream:
        parser.error("nothing to serve: give --apps 1 or more, or --upstream HOST:PORT")
    if args.no_balancer and args.apps == 0:
        parser.error("--no-balancer starts the app processes only: give --apps 1 or more")
    args.first_app_port = args.first_app_port or args.port + 1
    for port in (args.port, args.first_app_port, args.first_app_port + args.apps - 1):
        if not 1 <= port <= 65535:
            parser.error(f"port {port} is out of range (1-65535)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    ports = [args.first_app_port + k for k in range(args.apps)]
    local = "127.0.0.1" if args.app_address in ("0.0.0.0", "") else args.app_address
    upstreams = [f"{local}:{p}" for p in ports] + args.upstream
    if args.print_config:
        print(site_config(f"{args.listen}:{args.port}", upstreams), end="")
        return 0
    nginx_bin = None if args.no_balancer else find_nginx(args.nginx)

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    procs: list[subprocess.Popen] = []
    seen: Seen = {}
    run_dir = None
    code = 0
    try:
        env = app_env(args.apps)
        for k, port in enumerate(ports, 1):
            procs.append(start_app(args.app_address, port, env))
            print(f"app {k}: pid {procs[-1].pid}, http://{local}:{port}", flush=True)
        wait_healthy([f"http://{local}:{p}" for p in ports], procs, stopping)
        if nginx_bin:
            run_dir = nginx_run_dir(f"{args.listen}:{args.port}", upstreams)
            procs.append(subprocess.Popen([nginx_bin, "-p", str(run_dir), "-c", str(run_dir / "nginx.conf"),
                                           "-e", "stderr"], start_new_session=True,
                                          preexec_fn=die_with_parent))  # noqa: PLW1509 (only a prctl call)
            here = "127.0.0.1" if args.listen == "0.0.0.0" else args.listen
            print(f"nginx: pid {procs[-1].pid}, http://{args.listen}:{args.port} -> {', '.join(upstreams)}",
                  flush=True)
            wait_healthy([f"http://{here}:{args.port}"], procs, stopping, timeout=30)
        print("Ready. Ctrl-C stops them all.", flush=True)
        while not stopping.wait(1.0):
            seen.update(descendants(*(p.pid for p in procs)))
            ended = next((p for p in procs if p.poll() is not None), None)
            if ended is not None:
                print(f"pid {ended.pid} ended by itself (exit code {ended.returncode}): stopping the others",
                      file=sys.stderr)
                code = 1
                break
    except RuntimeError as e:
        print(f"serve_cluster: {e}", file=sys.stderr)
        code = 1
    finally:
        seen.update(descendants(*(p.pid for p in procs)))
        terminate(procs, seen)
        if run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)
    print("Stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
