"""Crash-state images from an strace of the writes and syncs made to a database.

The trace is `strace -f -ttt -xx -s BIG -e trace=...` of `blazefs mount` (see
record.sh).  It is replayed to a list of events (one per completed syscall on a
file under the database directory, in the order strace saw them complete) from
which `build(cut, mode, rng)` writes the directory a power cut right after event
`cut` could leave.

The model of what a power cut keeps (ALICE / CrashMonkey style):

- File data.  Every write is split into 4 KiB-aligned pieces (the page cache
  writes pages back independently).  A piece, or an ftruncate, is durable once an
  fsync/fdatasync of its file has returned after it, before the cut (even a
  sync that started before the piece was written: see _parse); a write to a
  file opened O_SYNC/O_DSYNC is durable as soon as it returns.  Of the
  non-durable operations of each file (those after its last sync), the image
  keeps: all of them (mode "all": what kill -9 leaves, the control), none
  ("none"), a random prefix ("prefix") or a random subset ("subset", each kept
  with probability 1/2).  The kept operations are applied in their original
  order on top of the durable content; a write past the end of a file extends
  it with zeros.  O_APPEND writes land at the offset the file had
  when they were made (computed from the full sequence, ftruncates included).

- Names (create, rename, unlink, mkdir).  Persisted in order (journalling
  filesystems, ext4 data=ordered or xfs, commit metadata operations in order)
  and all of them by any fsync/fdatasync (which commits the journal).  So a
  power cut keeps every name operation up to the last sync of any file before
  the cut and a prefix of the later ones: half the "prefix" and "subset" images
  lose a random suffix of those (blazefs never fsyncs DB/ itself: e.g. the
  rename of peers.json).  Files are tracked by identity: a renamed file keeps
  its (possibly partly lost) data under whichever name survives; a file whose
  creation is lost is absent.  An O_TRUNC open is a data operation (a
  truncation to 0).

- DB/data.mdb-lock is left out of every image (LMDB rebuilds its lock file
  when it is the only opener, which is the case after a reboot).

Everything random comes from the `random.Random` passed in: a seed gives the
same images every time from the same trace.
"""

import bisect
import os
import re
import shutil

PAGE = 4096

LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
CALL = re.compile(r"^([a-z_0-9]+)\((.*)\)\s+=\s+(-?\d+|0x[0-9a-f]+|\?)(?:\s.*)?$", re.S)
STR = re.compile(r'"((?:\\x[0-9a-f]{2})*)"(\.\.\.)?')


class TraceError(Exception):
    pass


def unhex(s):
    return bytes.fromhex(s.replace("\\x", ""))


def strings(args):
    out = []
    for m in STR.finditer(args):
        if m.group(2):
            raise TraceError("strace truncated a string: raise -s")
        out.append(unhex(m.group(1)))
    return out


def split_args(args):
    """Top-level comma-separated arguments (strings, arrays and structs kept whole)."""
    out, depth, cur, i, n = [], 0, [], 0, len(args)
    while i < n:
        c = args[i]
        if c == '"':
            j = i + 1
            while args[j] != '"':
                j += 2 if args[j] == "\\" else 1
            cur.append(args[i : j + 1])
            i = j + 1
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        if c == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if cur:
        out.append("".join(cur).strip())
    return out


def parse_lines(path):
    """Yields (line number, timestamp, syscall, args, result) of completed calls,
    joining `<unfinished ...>` with its `<... resumed>` line.  The line number is
    that of the completion."""
    pending = {}
    with open(path, encoding="ascii", errors="replace") as f:
        for no, raw in enumerate(f):
            raw = raw.rstrip("\n")
            m = LINE.match(raw)
            if not m:
                continue
            pid, ts, rest = m.group(1), float(m.group(2)), m.group(3)
            if rest.startswith("+++") or rest.startswith("---"):
                continue
            if rest.endswith("<unfinished ...>"):
                pending[pid] = (rest[: -len("<unfinished ...>")].rstrip(), ts, no)
                continue
            start = no
            if rest.startswith("<..."):
                m2 = re.match(r"<\.\.\. [a-z_0-9]+ resumed>\s?(.*)$", rest, re.S)
                if not m2 or pid not in pending:
                    continue
                head, _, start = pending.pop(pid)
                rest = head + m2.group(1)
            c = CALL.match(rest)
            if not c:
                continue
            r = c.group(3)
            res = None if r == "?" else int(r, 0)
            yield no, start, ts, c.group(1), c.group(2), res


class File:
    """One file (an inode) under the database directory."""

    def __init__(self, base):
        self.base = base  # bytes from the snapshot, or b"" for a new file
        self.ops = []  # [seq, "w", off, data, durable] or [seq, "t", len, None, durable]
        self.size = len(base)


class Event:
    __slots__ = ("seq", "line", "ts", "kind", "detail")

    def __init__(self, seq, line, ts, kind, detail):
        self.seq, self.line, self.ts, self.kind, self.detail = seq, line, ts, kind, detail


class Trace:
    """The events on files under `db` (the directory as the traced process named
    it) and what the snapshot `snap` held before they started."""

    def __init__(self, trace_path, db, snap):
        self.db = os.path.abspath(db).rstrip("/")
        self.snap = snap
        self.events = []  # Event, in completion order
        self.line_ts = []  # (line number, timestamp) of every parsed line
        self.files = {}  # id -> File
        self._parse(trace_path)

    # ---- replay of the trace ----
    def _rel(self, path):
        if path == self.db:
            return ""
        if path.startswith(self.db + "/"):
            return path[len(self.db) + 1 :]
        return None

    def _parse(self, trace_path):
        fds = {}  # fd -> dict(path, file, append, sync, pos, dir)
        names = {}  # rel path -> file id (the namespace as of the current event)
        dirs = {""}
        nid = 0
        for rel in sorted(self._snap_files()):
            self.files[nid] = File(open(os.path.join(self.snap, rel), "rb").read())
            names[rel] = nid
            nid += 1
        for root, ds, _ in os.walk(self.snap):
            for d in ds:
                dirs.add(os.path.relpath(os.path.join(root, d), self.snap))
        self.initial_names = dict(names)
        self.initial_dirs = set(dirs)

        def resolve(dirfd, p):
            if p.startswith("/"):
                return os.path.normpath(p)
            if dirfd == "AT_FDCWD":
                return None  # blazefs uses absolute paths or directory fds
            d = fds.get(int(dirfd))
            if d is None:
                return None
            return os.path.normpath(os.path.join(d["abs"], p))

        def ev(line, ts, kind, detail):
            self.events.append(Event(len(self.events), line, ts, kind, detail))

        def add_op(fid, op):
            f = self.files[fid]
            f.ops.append(op)

        def write(fd, off, data, line, ts):
            h = fds.get(fd)
            if h is None or h["file"] is None:
                return
            f = self.files[h["file"]]
            if off is None:
                off = f.size if h["append"] else h["pos"]
                h["pos"] = off + len(data)
            seq = len(self.events)
            # 4 KiB-aligned pieces: each can reach the disk or not.
            p = off
            while p < off + len(data):
                e = min(off + len(data), (p // PAGE + 1) * PAGE)
                add_op(h["file"], [seq, "w", p, data[p - off : e - off], h["sync"]])
                p = e
            f.size = max(f.size, off + len(data))
            ev(line, ts, "write", (h["file"], h["rel"], off, len(data)))

        for line, start, ts, call, args, res in parse_lines(trace_path):
            self.line_ts.append((line, ts))
            if res is None or res < 0:
                continue
            a = split_args(args)
            if call in ("openat", "open", "creat"):
                if call == "openat":
                    p = resolve(a[0], strings(a[1])[0].decode())
                    flags = a[2]
                else:
                    p = resolve("AT_FDCWD", strings(a[0])[0].decode())
                    flags = a[1] if call == "open" else "O_CREAT|O_WRONLY|O_TRUNC"
                rel = None if p is None else self._rel(p)
                if rel is None:
                    fds.pop(res, None)
                    continue
                h = {"abs": p, "rel": rel, "file": None, "pos": 0,
                     "append": "O_APPEND" in flags,
                     "sync": "O_SYNC" in flags or "O_DSYNC" in flags}
                if rel in dirs or "O_DIRECTORY" in flags:
                    fds[res] = h
                    continue
                if rel not in names:
                    if "O_CREAT" not in flags:
                        fds.pop(res, None)
                        continue
                    self.files[nid] = File(b"")
                    names[rel] = nid
                    nid += 1
                    ev(line, ts, "create", (rel, names[rel]))
                h["file"] = names[rel]
                fds[res] = h
                if "O_TRUNC" in flags:
                    f = self.files[h["file"]]
                    add_op(h["file"], [len(self.events), "t", 0, None, False])
                    f.size = 0
                    ev(line, ts, "truncate", (h["file"], rel, 0))
            elif call == "close":
                fds.pop(int(a[0]), None)
            elif call in ("dup", "dup2", "dup3"):
                old = fds.get(int(a[0]))
                if old is not None:
                    fds[res] = dict(old)  # shares the offset in reality; blazefs does not dup
                else:
                    fds.pop(res, None)
            elif call == "fcntl" and a[1].startswith("F_DUPFD"):
                old = fds.get(int(a[0]))
                if old is not None:
                    fds[res] = dict(old)
            elif call == "lseek":
                h = fds.get(int(a[0]))
                if h is not None:
                    h["pos"] = res
            elif call == "write":
                write(int(a[0]), None, strings(a[1])[0][:res], line, ts)
            elif call == "pwrite64":
                write(int(a[0]), int(a[3]), strings(a[1])[0][:res], line, ts)
            elif call in ("writev", "pwritev", "pwritev2"):
                data = b"".join(strings(a[1]))[:res]
                write(int(a[0]), int(a[3]) if call != "writev" else None, data, line, ts)
            elif call == "ftruncate":
                h = fds.get(int(a[0]))
                if h is not None and h["file"] is not None:
                    n = int(a[1])
                    add_op(h["file"], [len(self.events), "t", n, None, h["sync"]])
                    self.files[h["file"]].size = n
                    ev(line, ts, "truncate", (h["file"], h["rel"], n))
            elif call in ("fsync", "fdatasync"):
                h = fds.get(int(a[0]))
                if h is None:
                    continue
                if h["file"] is None:
                    ev(line, ts, "dirsync", (h["rel"],))
                    continue
                # Durable: every operation strace saw complete before the sync
                # returned, even one that completed while the sync ran.  That
                # may take as durable a write a real sync missed, which only
                # removes possible states: a failure is never an artefact of
                # strace's ordering of different threads.
                fid = h["file"]
                ev(line, ts, "sync", (fid, h["rel"], len(self.files[fid].ops)))
            elif call in ("rename", "renameat", "renameat2"):
                if call == "rename":
                    src = resolve("AT_FDCWD", strings(a[0])[0].decode())
                    dst = resolve("AT_FDCWD", strings(a[1])[0].decode())
                else:
                    src = resolve(a[0], strings(a[1])[0].decode())
                    dst = resolve(a[2], strings(a[3])[0].decode())
                rs, rd = self._rel(src or ""), self._rel(dst or "")
                if rs is None or rd is None:
                    continue
                if rs in names:
                    names[rd] = names.pop(rs)
                    ev(line, ts, "rename", (rs, rd))
            elif call in ("unlink", "unlinkat"):
                if call == "unlink":
                    p = resolve("AT_FDCWD", strings(a[0])[0].decode())
                else:
                    p = resolve(a[0], strings(a[1])[0].decode())
                rel = self._rel(p or "")
                if rel is None:
                    continue
                if rel in names:
                    del names[rel]
                    ev(line, ts, "unlink", (rel,))
                elif rel in dirs:
                    dirs.discard(rel)
                    ev(line, ts, "rmdir", (rel,))
            elif call in ("mkdir", "mkdirat"):
                if call == "mkdir":
                    p = resolve("AT_FDCWD", strings(a[0])[0].decode())
                else:
                    p = resolve(a[0], strings(a[1])[0].decode())
                rel = self._rel(p or "")
                if rel is not None:
                    dirs.add(rel)
                    ev(line, ts, "mkdir", (rel,))

    def _snap_files(self):
        for root, _, fs in os.walk(self.snap):
            for f in fs:
                rel = os.path.relpath(os.path.join(root, f), self.snap)
                if rel != "data.mdb-lock":
                    yield rel

    # ---- images ----
    def cut_time(self, cut):
        """The time of the cut after event `cut`: when strace saw the next line.
        A call a workload saw return before this time completed before the cut."""
        if cut < 0:
            return self.events[0].ts if self.events else float("inf")
        i = bisect.bisect_right(self.line_ts, (self.events[cut].line, float("inf")))
        return self.line_ts[i][1] if i < len(self.line_ts) else float("inf")

    def state(self, cut, unsync_after=None, names_cut=None):
        """Namespace and per-file (number of ops, number durable) after event
        `cut`.  Name operations after event `names_cut` (default: cut) are
        left out.  unsync_after (checker self-test only): the syncs that
        returned at or after this time are taken as not done."""
        if names_cut is None:
            names_cut = cut
        names = dict(self.initial_names)
        dirs = set(self.initial_dirs)
        nops = {fid: 0 for fid in self.files}
        synced = {fid: 0 for fid in self.files}
        for e in self.events[: cut + 1]:
            k, d = e.kind, e.detail
            if e.seq > names_cut and k in ("create", "rename", "unlink", "mkdir", "rmdir"):
                continue
            if k == "create":
                names[d[0]] = d[1]
            elif k == "rename":
                names[d[1]] = names.pop(d[0])
            elif k == "unlink":
                names.pop(d[0], None)
            elif k == "mkdir":
                dirs.add(d[0])
            elif k == "rmdir":
                dirs.discard(d[0])
            elif k == "sync" and (unsync_after is None or e.ts < unsync_after):
                synced[d[0]] = max(synced[d[0]], d[2])
        for fid, f in self.files.items():
            nops[fid] = sum(1 for op in f.ops if op[0] <= cut)
        return names, dirs, nops, synced

    def build(self, cut, mode, rng, out, drop_durable=False, unsync_after=None):
        """Writes into `out` the image after event `cut` (-1: before any).
        Returns a short description of what was kept.  drop_durable (checker
        self-test only) leaves out every operation, durable or not."""
        # Names: those made since the last sync of any file (a journalling
        # filesystem commits its journal, all names in it, on any fsync) may
        # be lost as a suffix, in half the prefix/subset images.
        names_cut = cut
        if mode in ("prefix", "subset") and cut >= 0 and rng.random() < 0.5:
            last = max((e.seq for e in self.events[: cut + 1]
                        if e.kind in ("sync", "dirsync")), default=-1)
            names_cut = rng.randint(last, cut)
        names, dirs, nops, synced = self.state(cut, unsync_after, names_cut)
        if os.path.exists(out):
            shutil.rmtree(out)
        os.makedirs(out)
        for d in sorted(dirs):
            if d:
                os.makedirs(os.path.join(out, d), exist_ok=True)
        kept_total = lost_total = 0
        for rel, fid in sorted(names.items()):
            if rel == "data.mdb-lock":
                continue
            f = self.files[fid]
            ops = f.ops[: nops[fid]]
            s = synced[fid]
            tail = [i for i in range(s, len(ops)) if not ops[i][4]]
            if drop_durable:
                keep = set()
            elif mode == "all":
                keep = set(range(len(ops)))
            else:
                keep = set(range(s)) | {i for i in range(s, len(ops)) if ops[i][4]}
                if mode == "prefix" and tail:
                    keep |= set(tail[: rng.randint(0, len(tail))])
                elif mode == "subset":
                    keep |= {i for i in tail if rng.random() < 0.5}
            kept_total += len([i for i in tail if i in keep])
            lost_total += len([i for i in tail if i not in keep])
            buf = bytearray(f.base)
            for i, op in enumerate(ops):
                if i not in keep:
                    continue
                if op[1] == "t":
                    del buf[op[2] :]
                    buf.extend(b"\0" * (op[2] - len(buf)))
                else:
                    off, data = op[2], op[3]
                    if len(buf) < off:
                        buf.extend(b"\0" * (off - len(buf)))
                    buf[off : off + len(data)] = data
            p = os.path.join(out, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as fo:
                fo.write(buf)
            os.chmod(p, 0o600)
        lost = sum(1 for e in self.events[names_cut + 1 : cut + 1]
                   if e.kind in ("create", "rename", "unlink", "mkdir", "rmdir"))
        return f"{mode}: kept {kept_total} of {kept_total + lost_total} unsynced pieces" + (
            f", lost the last {lost} name operations" if lost else "")
