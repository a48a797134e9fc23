"""Writes made while a member is away, every way an open can end its part (live.rs).

    outage_writes.py setup BIG        files of BIG bytes under /shadow
    outage_writes.py long BIG STOP    writes "db" until the file STOP exists (prints ready)
    outage_writes.py threads BIG STOP threads writing their own files until STOP exists
    outage_writes.py outage BIG SEED  one outage's writes: opens closed, appended to, shared
                                      with a fork child killed mid-write, a process killed,
                                      one left by _exit and one by SIGTERM, truncated,
                                      mapped, carried across exec; chmod and utimes by
                                      name and through an fd
"""
import mmap
import os
import random
import signal
import sys
import threading
import time

D = "/shadow/"


def fill(name, size):
    fd = os.open(D + name, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    for at in range(0, size, 1 << 20):
        os.pwrite(fd, bytes([65 + (at >> 20) % 26]) * min(1 << 20, size - at), at)
    os.close(fd)


def scatter(fd, size, n, tag):
    for i in range(n):
        os.pwrite(fd, tag * random.randrange(1, 300), random.randrange(size))


def setup(size):
    for name in ("db", "closed", "forked", "killed", "exec", "exited", "termed", "chmodded", "touched"):
        fill(name, size)
    for name in ("log", "trunc", "mapped"):
        fill(name, 1 << 16)


def long(size, stop):
    fd = os.open(D + "db", os.O_RDWR)
    done = False

    def reader():
        while not done:
            os.read(fd, 100)
            time.sleep(0.001)

    t = threading.Thread(target=reader)
    t.start()
    print("ready", flush=True)
    i = 0
    while not os.path.exists(stop):
        i += 1
        tag = b"%08d" % i
        os.pwrite(fd, tag * random.randrange(1, 64), random.randrange(size))
        if i % 7 == 0:
            os.lseek(fd, random.randrange(size), os.SEEK_SET)
            os.write(fd, tag)
        time.sleep(0.002)
    done = True
    t.join()
    os.close(fd)
    print("wrote", i, flush=True)


def outage(size, seed):
    random.seed(seed)
    tag = b"<%d>" % seed
    # Closed: its ranges are all the member needs.
    fd = os.open(D + "closed", os.O_RDWR)
    scatter(fd, size, 50, tag)
    os.lseek(fd, random.randrange(size), os.SEEK_SET)
    os.write(fd, tag * 10)
    os.writev(fd, [tag, b"-" * 100, tag])
    os.pwrite(fd, tag, size + random.randrange(100))
    os.close(fd)
    # Write-only: its position followed by the shim, no lseek per write.
    fd = os.open(D + "closed", os.O_WRONLY)
    os.lseek(fd, random.randrange(size), os.SEEK_SET)
    for i in range(10):
        os.write(fd, tag * (i + 1))
    os.lseek(fd, -50, os.SEEK_CUR)
    os.writev(fd, [tag, tag])
    os.lseek(fd, 0, os.SEEK_END)
    os.write(fd, tag)
    os.close(fd)
    # Appended to, by two opens.
    a = os.open(D + "log", os.O_WRONLY | os.O_APPEND)
    b = os.open(D + "log", os.O_WRONLY | os.O_APPEND)
    for i in range(20):
        os.write(a if i % 2 else b, tag + b" line %d\n" % i)
    os.close(a)
    os.close(b)
    # Shared with a fork child killed with its part open: whole.
    fd = os.open(D + "forked", os.O_RDWR)
    scatter(fd, size, 5, tag)
    pid = os.fork()
    if pid == 0:
        scatter(fd, size, 5, b"child" + tag)
        os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)
    scatter(fd, size, 5, tag)
    os.close(fd)
    # A process killed with its part open: whole.
    pid = os.fork()
    if pid == 0:
        fd = os.open(D + "killed", os.O_RDWR)
        scatter(fd, size, 20, b"killed" + tag)
        os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)
    # Left by _exit, and by a signal's default action, with the file open: its part ends.
    for name, leave in (("exited", lambda: os._exit(0)), ("termed", lambda: os.kill(os.getpid(), signal.SIGTERM))):
        pid = os.fork()
        if pid == 0:
            fd = os.open(D + name, os.O_RDWR)
            scatter(fd, size, 20, tag)
            leave()
        os.waitpid(pid, 0)
    # Metadata alone, by name and through an fd: the metadata is all the member lacks.
    os.chmod(D + "chmodded", 0o600 + seed)
    os.utime(D + "chmodded", (seed * 1000, seed * 2000))
    fd = os.open(D + "touched", os.O_RDONLY)
    os.fchmod(fd, 0o640 + seed)
    os.utime(fd, ns=(seed * 10**9 + 1, seed * 10**9 + 2))
    os.close(fd)
    # Cut short, then written: whole.
    fd = os.open(D + "trunc", os.O_RDWR)
    scatter(fd, 1 << 16, 5, tag)
    os.ftruncate(fd, random.randrange(1 << 15, 1 << 16))
    os.pwrite(fd, tag, 10)
    os.close(fd)
    # Written through a shared mapping and by write: whole.
    fd = os.open(D + "mapped", os.O_RDWR)
    os.pwrite(fd, tag, 0)
    m = mmap.mmap(fd, 1 << 16)
    at = random.randrange((1 << 16) - 100)
    m[at:at + len(tag)] = tag
    m.close()
    os.close(fd)
    # Written, then carried across exec and written by the new image.
    fd = os.open(D + "exec", os.O_RDWR)
    scatter(fd, size, 5, tag)
    os.set_inheritable(fd, True)
    pid = os.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import os, random; random.seed(%d); fd = %d\n"
                 "for i in range(5): os.pwrite(fd, b'exec', random.randrange(%d))\nos.close(fd)" % (seed, fd, size)])
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    assert status == 0, status


def threads(size, stop):
    """Threads each writing their own file at random places (and one appending), with no
    pause, until STOP exists: a member change lands among their writes."""
    files = ["t%d" % i for i in range(4)]
    for name in files:
        fill(name, size)
    done = []

    def writer(name, i):
        fd = os.open(D + name, os.O_RDWR if i % 2 else os.O_WRONLY)
        rnd = random.Random(i)
        n = 0
        while not done:
            n += 1
            tag = b"%d.%d;" % (i, n)
            if i == 3:
                os.write(fd, tag)
            else:
                os.pwrite(fd, tag * rnd.randrange(1, 50), rnd.randrange(size))
        os.close(fd)

    ts = [threading.Thread(target=writer, args=(name, i)) for i, name in enumerate(files)]
    for t in ts:
        t.start()
    print("ready", flush=True)
    while not os.path.exists(stop):
        time.sleep(0.01)
    done.append(True)
    for t in ts:
        t.join()
    print("stopped", flush=True)


cmd = sys.argv[1]
if cmd == "setup":
    setup(int(sys.argv[2]))
elif cmd == "long":
    long(int(sys.argv[2]), sys.argv[3])
elif cmd == "threads":
    threads(int(sys.argv[2]), sys.argv[3])
elif cmd == "outage":
    outage(int(sys.argv[2]), int(sys.argv[3]))
else:
    sys.exit("unknown command " + cmd)
