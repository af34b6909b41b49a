#!/usr/bin/python3
"""The engine tests' ZooKeeper client.

  zk.py write HOSTS N [COUNT]
                         creates /berth/N (six digits), and the COUNT - 1 after it (one by default)
                         over one connection; prints each number the ensemble acknowledged
  zk.py read HOST        prints the numbers under /berth as HOST holds them (its own view, no sync)
  zk.py servers HOST     prints the server ids of the ensemble's configuration as HOST holds it,
                         after HOST's mode (`leader`, `follower`), one per line

HOSTS is `host:port,...`; one connection attempt each, a few seconds at most: a member being
replaced costs no retries. A failure exits with 1.
"""
import sys

from kazoo.client import KazooClient
from kazoo.retry import KazooRetry


def connect(hosts):
    client = KazooClient(
        hosts=hosts,
        timeout=4,
        connection_retry=KazooRetry(max_tries=0),
        command_retry=KazooRetry(max_tries=0),
    )
    client.start(timeout=4)
    return client


def main(command, hosts, *rest):
    client = connect(hosts)
    try:
        if command == "write":
            first, count = int(rest[0]), int(rest[1]) if len(rest) > 1 else 1
            client.ensure_path("/berth")
            for n in range(first, first + count):
                client.create("/berth/%06d" % n, b"acknowledged")
                print(n, flush=True)
        elif command == "read":
            for child in sorted(client.get_children("/berth")):
                print(int(child))
        elif command == "servers":
            mode = [line for line in client.command(b"srvr").splitlines() if line.startswith("Mode:")]
            print(mode[0].split(":", 1)[1].strip() if mode else "none")
            config = client.get("/zookeeper/config")[0].decode()
            for line in config.splitlines():
                if line.startswith("server."):
                    print(line.split("=", 1)[0].split(".", 1)[1])
        else:
            raise SystemExit("zk.py: unknown command " + command)
    finally:
        client.stop()


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    except SystemExit:
        raise
    except Exception as error:  # noqa: BLE001 - any failure is a failed write or read
        print("zk.py: %s: %s" % (type(error).__name__, error), file=sys.stderr)
        sys.exit(1)
