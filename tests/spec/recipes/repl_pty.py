#!/usr/bin/env python3
"""Drive the dfush REPL on a pseudo-terminal for repl_spec.lua.

usage: repl_pty.py DFUSH HOME STEP...
Each STEP is text to type (Python escapes: \\t Tab, \\x03 Ctrl-C, \\x04 Ctrl-D, \\n Enter); after
each one the output is read until it has been quiet for a while. Prints everything the REPL
wrote, then "EXIT <status>" (or "EXIT -<signal>").
"""
import os
import pty
import select
import sys
import time


def main():
    binary, home, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["HOME"] = home
        os.execv(binary, [binary])
    out = bytearray()

    def drain(quiet=0.3, limit=10.0):
        end, last = time.time() + limit, time.time()
        while time.time() < end and time.time() - last < quiet:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                if not data:
                    return
                out.extend(data)
                last = time.time()

    # the first prompt: the REPL is ready (and handles Ctrl-C) from then on
    end = time.time() + 30
    while b"> " not in out and time.time() < end:
        drain(quiet=0.2, limit=0.5)
    for step in steps:
        try:
            os.write(fd, step.encode().decode("unicode_escape").encode("latin-1"))
        except OSError:
            break
        drain()
    end = time.time() + 5
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.time() > end:
            os.kill(pid, 9)
        drain(quiet=0.1, limit=0.2)
    sys.stdout.write(out.decode("utf-8", "replace"))
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
    sys.stdout.write("\nEXIT %d\n" % code)


main()
