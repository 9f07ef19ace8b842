# What POSIX calls do on each kind of node (issue 12 item 4, README "Choices"):
# scratch files get the caller's mode exactly under any umask (the daemon's
# own umask never applies), keep or lose SUID/SGID as on any file system, and
# take chmod/chown; records and collections accept chmod/chown and ignore
# them; hard links and special files are EPERM; a collection's mtime and
# ctime move when an entry is added or removed.
. "$(dirname "$0")/common.bash"

init_db
umask 077 # the daemon's umask: it must not reach the caller's files
mount_fs -o allow_other
umask 022
mkdir "$MNT/c" || fail "mkdir"
echo '{"a": 1}' >"$MNT/c/r.json" || fail "write r"

python3 - "$MNT" <<'PY' || fail "POSIX semantics (above)"
import errno, os, stat, sys, time
m = sys.argv[1]
c = os.path.join(m, "c")
bad = []
def check(what, got, want):
    if got != want:
        bad.append("%s: got %s, expected %s" % (what, got, want))
def err(fn):
    try:
        fn()
        return "OK"
    except OSError as e:
        return errno.errorcode[e.errno]
def mode(p):
    return oct(stat.S_IMODE(os.lstat(p).st_mode))

# modes under several umasks, by open(O_CREAT) and by mknod
for um, m_in, want in [(0, 0o620, 0o620), (0, 0o777, 0o777), (0o022, 0o777, 0o755),
                       (0o027, 0o666, 0o640), (0o077, 0o666, 0o600), (0, 0o4755, 0o4755),
                       (0, 0o2750, 0o2750)]:
    os.umask(um)
    p = os.path.join(c, "f-%o-%o" % (um, m_in))
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY, m_in))
    check("open %o under umask %03o" % (m_in, um), mode(p), oct(want))
    p = os.path.join(c, "n-%o-%o" % (um, m_in))
    os.mknod(p, stat.S_IFREG | m_in)
    check("mknod %o under umask %03o" % (m_in, um), mode(p), oct(want))
os.umask(0o022)

# SUID/SGID are cleared when someone without CAP_FSETID writes
# (opened before dropping privileges: the test's directory is private)
p = os.path.join(c, "suid")
os.umask(0)
os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o6777))
os.umask(0o022)
check("suid file mode", mode(p), oct(0o6777))
fd = os.open(p, os.O_WRONLY)
pid = os.fork()
if pid == 0:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    os.write(fd, b"x")
    os.close(fd)
    os._exit(0)
check("write as nobody", os.waitpid(pid, 0)[1], 0)
check("mode after a write by another user", mode(p), oct(0o777))

# chmod/chown: real on scratch files, accepted and ignored on records and collections
os.chmod(p, 0o640)
check("chmod of a scratch file", mode(p), oct(0o640))
os.chown(p, 65534, 65534)
check("chown of a scratch file", os.stat(p).st_uid, 65534)
r = os.path.join(c, "r.json")
check("chmod of a record", err(lambda: os.chmod(r, 0o600)), "OK")
check("record mode after chmod", mode(r), oct(0o644))
check("chown of a record", err(lambda: os.chown(r, 65534, 65534)), "OK")
check("record owner after chown", os.stat(r).st_uid, os.getuid())
check("chmod of a collection", err(lambda: os.chmod(c, 0o700)), "OK")
check("collection mode after chmod", mode(c), oct(0o755))

# hard links and special files: EPERM
check("link of a record", err(lambda: os.link(r, os.path.join(c, "r2.json"))), "EPERM")
check("link of a scratch file", err(lambda: os.link(p, os.path.join(c, "p2"))), "EPERM")
check("mkfifo", err(lambda: os.mkfifo(os.path.join(c, "fifo"))), "EPERM")
check("mknod of a record name", err(lambda: os.mknod(os.path.join(c, "x.json"))), "EPERM")
check("mkdir in a collection", err(lambda: os.mkdir(os.path.join(c, "sub"))), "EPERM")

# a collection's mtime and ctime move when an entry comes or goes
def times(d):
    s = os.stat(d)
    return (s.st_mtime_ns, s.st_ctime_ns)
def moved(what, fn, d=c):
    before = times(d)
    time.sleep(0.02)
    fn()
    after = times(d)
    if not (after[0] > before[0] and after[1] > before[1]):
        bad.append("%s: times did not move: %s -> %s" % (what, before, after))
def write(name, data):
    with open(os.path.join(c, name), "w") as f:
        f.write(data)
moved("new record", lambda: write("new.json", '{"n": 1}'))
moved("new scratch file", lambda: write("new.txt", "x"))
moved("unlink of a record", lambda: os.unlink(os.path.join(c, "new.json")))
moved("unlink of a scratch file", lambda: os.unlink(os.path.join(c, "new.txt")))
moved("rename of a scratch file over a record", lambda: (write("t", '{"t": 1}'), os.rename(os.path.join(c, "t"), r)))
moved("symlink", lambda: os.symlink("r.json", os.path.join(c, ".#r.json")))
moved("new collection (root)", lambda: os.mkdir(os.path.join(m, "d")), m)
before = times(c)
write("r.json", '{"a": 2}')
check("times after an edit of a record", times(c), before)
if bad:
    print("\n".join(bad))
    sys.exit(1)
PY
echo ok
