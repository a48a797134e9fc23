# churn_during_enable.py SHADOWCTL CONFIG SEED ROUNDS OPS [links] [enable-only] -- run under
# the shim. Each round: a member disabled, OPS random operations on a small tree (writes, hard
# links, renames, removals, mkdir/rmdir, chmod, truncate), then `enable` while the same kind of
# operations go on, then `verify`. Prints "seed N: ok", or the first failing round with its
# operations. `links`: the mix is hard links of files and of symlinks, symlinks made, renames
# of files, and no directories made or removed (helper-42's rand4.py). `enable-only`: no
# verify, the enables alone must succeed. Written by helper-42 (its rand2.py and rand4.py),
# the shadowctl path and the options made arguments.
import os, sys, random, subprocess, ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
ctl_bin, cfg, seed, rounds, nops = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
enable_only = 'enable-only' in sys.argv[6:]
links = 'links' in sys.argv[6:]
R = random.Random(seed)
env = {k: v for k, v in os.environ.items() if k != 'LD_PRELOAD'}
def ctl(*a):
    return subprocess.run([ctl_bin, '-c', cfg, *a], env=env, capture_output=True, text=True)
DIRS = ['', 'A', 'B', 'A/C']
NAMES = ['f', 'g', 'h']
def rp(): return os.path.join('/shadow', R.choice(DIRS), R.choice(NAMES + (['x', 'y', 'z'] if links else ['A', 'B', 'C'])))
OPS = ['write', 'link', 'link', 'link', 'frename', 'unlink', 'chmod', 'trunc', 'slink', 'symlink'] if links else \
    ['write', 'write', 'link', 'link', 'rename', 'xch', 'unlink', 'mkdir', 'chmod', 'trunc', 'rmdir']
def op():
    k = R.choice(OPS)
    a, b = rp(), rp()
    try:
        if k == 'write':
            with open(a, 'ab') as f: f.write(os.urandom(R.randint(1, 50)))
            return f'w({a!r})'
        if k == 'link': os.link(a, b); return f'os.link({a!r},{b!r})'
        if k == 'rename': os.rename(a, b); return f'os.rename({a!r},{b!r})'
        if k == 'xch':
            if libc.renameat2(-100, a.encode(), -100, b.encode(), 2) != 0: raise OSError(ctypes.get_errno(), '')
            return f'xch({a!r},{b!r})'
        if k == 'frename':
            if os.path.isdir(a) or os.path.isdir(b): return None
            os.rename(a, b); return f'os.rename({a!r},{b!r})'
        if k == 'slink': os.link(a, b, follow_symlinks=False); return f'os.link({a!r},{b!r},follow_symlinks=False)'
        if k == 'symlink': t = R.choice(NAMES); os.symlink('/nonexistent/'+t, a); return f'os.symlink("/nonexistent/{t}",{a!r})'
        if k == 'unlink': os.unlink(a); return f'os.unlink({a!r})'
        if k == 'mkdir': os.mkdir(a); return f'os.mkdir({a!r})'
        if k == 'rmdir': os.rmdir(a); return f'os.rmdir({a!r})'
        if k == 'chmod': m = R.choice([0o600, 0o644, 0o755]); os.chmod(a, m); return f'os.chmod({a!r},{oct(m)})'
        if k == 'trunc':
            if os.path.islink(a): return None
            n = R.randint(0, 20); os.truncate(a, n); return f'os.truncate({a!r},{n})'
    except OSError:
        return None
for d in ['A', 'B', 'A/C']: os.makedirs('/shadow/' + d, exist_ok=True)
log = []
def tree():
    out = []
    for dp, dn, fn in os.walk('/shadow'):
        for n in sorted(dn + fn):
            p = os.path.join(dp, n); st = os.lstat(p)
            out.append(f'{p} {oct(st.st_mode)} n={st.st_nlink} ino={st.st_ino} size={st.st_size}' + (f' -> {os.readlink(p)}' if os.path.islink(p) else ''))
    return '\n'.join(sorted(out))
for r in range(rounds):
    start = tree()
    m = R.choice(['primary', 'secondary'])
    log.append(f'# disable {m}')
    ctl('disable', m)
    for _ in range(nops):
        s = op()
        if s: log.append(s)
    log.append(f'# enable {m} starts')
    c = subprocess.Popen([ctl_bin, '-c', cfg, 'enable', m], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while c.poll() is None:
        s = op()
        if s: log.append(s)
    eo = c.stdout.read()
    log.append(f'# enable {m} returned {c.returncode}: {eo.strip()[:300]}')
    if c.returncode != 0:
        if enable_only:
            print(f'seed {seed} round {r}: enable {m} failed: {eo.strip()}\n' + '\n'.join(log))
            sys.exit(1)
        ctl('enable', m)
    if enable_only:
        log = []
        continue
    v = ctl('verify')
    if v.returncode != 0:
        print(f'seed {seed} round {r}: verify failed\n' + v.stdout + v.stderr)
        print('tree at the round start:\n' + start)
        print('\n'.join(log))
        sys.exit(1)
    log = []
print(f'seed {seed}: ok')
