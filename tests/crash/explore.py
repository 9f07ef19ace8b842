#!/usr/bin/env python3
"""Builds the images a power cut could leave from a recorded workload (record.sh)
and checks the durability contract on each.

usage: explore.py REC... [--self-test] --images N [--seed S] [--work DIR]
                  [--keep-failed DIR] [--no-sweep]
       explore.py REC... --only I        (image I again, alone)

For every image (a cut point after one event of the trace, and a mode: see
crashimg.py) the checks are, in order:
  D3  mdb_stat -a and mdb_dump -a read the image's LMDB environment;
  D4  the image's committed version vector (`blazefs status`, read-only, before
      any wal replay) holds every change of A the peer held before the cut:
      otherwise A reuses those sequence numbers for other changes;
  D3  `blazefs mount` of the image comes up, `ls -R` works, every record reads
      as JSON, the unmount is clean and mdb_stat -a still passes after it;
  D2  every record whose fsync() returned 0 before the cut reads back with the
      content that fsync made durable, or with a version written after it that
      started before the cut (or is absent if such a later write was a delete);
      never an older version, never missing;
  D1/D3 no record reads back a content never written before the cut.
Prints one line per failure and "images built N, checked N, failed N".
Exit status 1 if an image failed, 2 if the explorer itself is broken.
"""

import argparse
import bisect
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crashimg  # noqa: E402

BLAZEFS = os.environ.get("BLAZEFS") or os.path.realpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../blazefs"))
MODES = [("subset", 45), ("prefix", 35), ("none", 10), ("all", 10)]


def load_wlog(path):
    versions = {}  # rec -> [(t0, t1, content or None)]
    fsyncs = []  # (t1, rec, content)
    peer = []  # (t1, vv)
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e["op"] == "put":
                versions.setdefault(e["rec"], []).append((e["t0"], e["t1"], e["v"]))
            elif e["op"] == "del":
                versions.setdefault(e["rec"], []).append((e["t0"], e["t1"], None))
            elif e["op"] == "fsync":
                fsyncs.append((e["t1"], e["rec"], e["v"]))
            elif e["op"] == "peer":
                peer.append((e["t1"], e["vv"]))
    return versions, fsyncs, peer


def show(v):
    return "absent" if v is None else "n=%s" % v.get("n")


class Checker:
    def __init__(self, rec, work, tag):
        self.rec = rec
        self.work = work
        self.mnt = os.path.join(work, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        self.env = dict(os.environ, HOME=os.path.join(work, "home"))
        os.makedirs(self.env["HOME"], exist_ok=True)
        self.wlog = os.path.join(rec, "wlog")
        self.versions, self.fsyncs, self.peer = load_wlog(self.wlog)
        self.origin = self.status(os.path.join(rec, "snap"))["device"]
        self.tag = tag

    def run(self, args, timeout=20):
        return subprocess.run(args, capture_output=True, text=True, env=self.env,
                              timeout=timeout)

    def status(self, db):
        r = self.run([BLAZEFS, "status", "--json", db])
        if r.returncode != 0:
            raise RuntimeError("blazefs status %s: %s" % (db, r.stderr.strip()))
        return json.loads(r.stdout)

    def expected(self, rec, tcut):
        """(what must be there or None, acceptable contents, absent acceptable)."""
        vs = [v for v in self.versions.get(rec, []) if v[0] < tcut]
        need = None
        for t1, r, v in self.fsyncs:
            if r == rec and t1 < tcut:
                need = v  # fsyncs of one record are logged in order
        if need is None:
            ok = [v[2] for v in vs if v[2] is not None]
            return None, ok, True
        # The durable version, or any version started before the cut after it.
        idx = max(i for i, v in enumerate(vs) if v[2] == need)
        later = vs[idx:]
        return need, [v[2] for v in later if v[2] is not None], any(v[2] is None for v in later)

    def check(self, img, tcut, only=None):
        """Returns a list of (guarantee, what) failures of the image `img`
        (of the records in `only` if given)."""
        fails = self.check_d4(img, tcut)
        if any(g == "D3" for g, _ in fails):
            return fails
        data = os.path.join(img, "data.mdb")
        log = open(os.path.join(self.work, "mount.log"), "w")
        p = subprocess.Popen([BLAZEFS, "mount", img, self.mnt, "-f", "--no-listen", "--no-mdns"],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env)
        try:
            up = False
            for _ in range(200):
                if os.path.ismount(self.mnt):
                    up = True
                    break
                if p.poll() is not None:
                    break
                time.sleep(0.05)
            if not up:
                log.flush()
                fails.append(("D3", "mount failed: %s" % self.tail()))
                return fails
            r = self.run(["ls", "-R", self.mnt])
            if r.returncode != 0:
                fails.append(("D3", "ls -R: %s" % r.stderr.strip()[:200]))
            for rec in sorted(self.versions):
                if only is None or rec in only:
                    fails += self.check_record(rec, tcut)
        finally:
            if os.path.ismount(self.mnt):
                subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True)
            try:
                rc = p.wait(timeout=10)
                if rc != 0 and not any(f[1].startswith("mount failed") for f in fails):
                    fails.append(("D3", "blazefs mount exited %d: %s" % (rc, self.tail())))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                subprocess.run(["fusermount3", "-uz", self.mnt], capture_output=True)
                fails.append(("D3", "blazefs mount did not exit after the unmount"))
            log.close()
        r = self.run(["mdb_stat", "-n", "-a", data])
        if r.returncode != 0:
            fails.append(("D3", "mdb_stat -a after the mount: %s" % r.stderr.strip()[:200]))
        return fails

    def check_d4(self, img, tcut):
        """D3 by the LMDB tools, and D4 on the committed version vector."""
        fails = []
        data = os.path.join(img, "data.mdb")
        for tool in ("mdb_stat", "mdb_dump"):
            r = self.run([tool, "-n", "-a", data])
            if r.returncode != 0:
                fails.append(("D3", "%s -a: %s" % (tool, (r.stderr or r.stdout).strip()[:200])))
        if fails:
            return fails
        held = max([vv for t1, vv in self.peer if t1 < tcut], default=0)
        try:
            mine = self.status(img)["version_vector"].get(self.origin, 0)
            if mine < held:
                fails.append(("D4", "the peer held A's changes 1..%d, the image has 1..%d: "
                              "%d sent before durable, their seqs would be reused"
                              % (held, mine, held - mine)))
        except (RuntimeError, ValueError) as e:
            fails.append(("D3", "status of the image: %s" % e))
        return fails

    def tail(self):
        with open(os.path.join(self.work, "mount.log")) as f:
            return " | ".join(f.read().strip().splitlines()[-3:])

    def check_record(self, rec, tcut):
        path = os.path.join(self.mnt, "c", rec + ".json")
        try:
            with open(path) as f:
                raw = f.read()
        except FileNotFoundError:
            got = None
        except OSError as e:
            return [("D3", "%s: read: %s" % (rec, e))]
        else:
            try:
                got = json.loads(raw)
            except ValueError:
                return [("D3", "%s: not JSON: %r" % (rec, raw[:80]))]
        need, ok, absent_ok = self.expected(rec, tcut)
        if got is None:
            if absent_ok or (need is None):
                return []
            return [("D2", "%s: fsync'd %s, image has it absent" % (rec, show(need)))]
        if got in ok:
            return []
        what = self.describe(rec, got, tcut)
        if need is not None:
            return [("D2", "%s: fsync'd %s, image has %s" % (rec, show(need), what))]
        return [("D1/D3", "%s: image has %s" % (rec, what))]

    def describe(self, rec, got, tcut):
        """What `got` is, against the versions of rec written (t: start time
        relative to the cut)."""
        vs = self.versions.get(rec, [])
        same = [v for v in vs if v[2] == got]
        if same:
            t0 = same[-1][0]
            kind = "an older version" if t0 < tcut else \
                "a version written after the cut (explorer bug?)"
            return "%s (%s, written at cut%+.3fs)" % (show(got), kind, t0 - tcut)
        # Not one version: say where each field comes from.
        parts = []
        for k in sorted(got):
            src = [v for v in vs if v[2] is not None and v[2].get(k) == got[k]]
            parts.append("%s of %s" % (k, "/".join(show(v[2]) for v in src[-2:]) or "none"))
        known = {k for v in vs if v[2] is not None for k in v[2]}
        parts += ["%s missing" % k for k in sorted(known - set(got))]
        return "%s, a mix never written: %s" % (show(got), ", ".join(parts))


REC_KINDS = ("D2", "D1/D3")  # failures that name a record's content


def blame(chk, pristine, img, tcut, fails):
    """Says, for each failure of a record's content, whether LMDB alone (the
    image with its wal emptied) holds an acceptable version: then the replay
    of the wal did the damage."""
    shutil.rmtree(img, ignore_errors=True)
    shutil.copytree(pristine, img)
    wal = os.path.join(img, "wal")
    if not os.path.exists(wal) or os.path.getsize(wal) == 0:
        return [(g, w + " [the wal is empty: LMDB lost it]" if g in REC_KINDS else w)
                for g, w in fails]
    os.truncate(wal, 0)
    bad = {w.split(":")[0] for g, w in fails if g in REC_KINDS}
    again = {w.split(":")[0] for g, w in chk.check(img, tcut, only=bad) if g in REC_KINDS}
    return [(g, w if g not in REC_KINDS else w + (
        " [LMDB alone has it wrong too]" if w.split(":")[0] in again else
        " [LMDB alone has it right: the replay of a stale wal rolled it back]"))
        for g, w in fails]


def pick_cut(tr, chk, i, rng):
    """(cut, mode) of image i.  A third right after (up to 8 events after) a
    sync of a database file, where the issue's rollbacks show up; a third
    right after the peer was seen holding changes of A (D4: nothing it holds
    may be missing from the image), half of them with durable writes only; a
    third anywhere."""
    mode = rng.choices([m for m, _ in MODES], [w for _, w in MODES])[0]
    if i % 3 == 0 and tr.syncs:
        cut = rng.choice(tr.syncs)
        cut += rng.randint(0, min(8, len(tr.events) - 1 - cut))
    elif i % 3 == 1 and chk.peer:
        t1 = rng.choice(chk.peer)[0]
        cut = min(bisect.bisect_right(tr.cut_times, t1), len(tr.events) - 1)
        if rng.random() < 0.5:
            mode = "none"
    else:
        cut = rng.randrange(len(tr.events))
    return cut, mode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rec", nargs="+", help="recordings (record.sh); image i uses rec[i %% n]")
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work")
    ap.add_argument("--keep-failed", help="copy failing images (as built) here")
    ap.add_argument("--only", type=int, help="build and check image ONLY alone")
    ap.add_argument("--self-test", action="store_true",
                    help="check the checker on each recording first (exit 2 if it fails)")
    ap.add_argument("--no-sweep", action="store_true", help="skip the D4 sweep")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="blazefs-crash.")
    img = os.path.join(work, "img")
    recs = []
    for rec in a.rec:
        db = open(os.path.join(rec, "dbpath")).read().strip()
        t = time.time()
        tr = crashimg.Trace(os.path.join(rec, "trace"), db, os.path.join(rec, "snap"))
        tr.syncs = [e.seq for e in tr.events if e.kind in ("sync", "dirsync")]
        tr.cut_times = [tr.cut_time(c) for c in range(len(tr.events))]
        chk = Checker(rec, work, "")
        nsync = sum(1 for e in tr.events if e.kind == "sync")
        peer = max([v for _, v in chk.peer], default=0)
        print("%s: %d events on the database files (%d syncs), %d fsync()s by the workload, "
              "peer got %d changes, parsed in %.1f s"
              % (rec, len(tr.events), nsync, len(chk.fsyncs), peer, time.time() - t))
        if a.self_test and self_test(tr, chk, img):
            sys.exit(2)
        recs.append((rec, tr, chk))
    built = checked = failed = 0
    kinds = {}
    t = time.time()
    for i in range(a.images) if a.only is None else [a.only]:
        rec, tr, chk = recs[i % len(recs)]
        # One generator per image: image i is the same whatever the count.
        rng = random.Random("%d:%d" % (a.seed, i))
        cut, mode = pick_cut(tr, chk, i, rng)
        what = tr.build(cut, mode, rng, img)
        built += 1
        pristine = img + ".pristine"
        shutil.rmtree(pristine, ignore_errors=True)
        shutil.copytree(img, pristine)
        fails = chk.check(img, tr.cut_time(cut))
        checked += 1
        if any(g in REC_KINDS for g, _ in fails):
            fails = blame(chk, pristine, img, tr.cut_time(cut), fails)
        if fails:
            failed += 1
            for g, w in fails:
                kinds[g] = kinds.get(g, 0) + 1
                print("FAIL image %d [%s, cut after event %d/%d = trace line %d, %s]: %s %s"
                      % (i, os.path.basename(rec.rstrip("/")), cut, len(tr.events),
                         tr.events[cut].line + 1, what, g, w), flush=True)
            if a.keep_failed:
                dst = os.path.join(a.keep_failed, "image%d" % i)
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(pristine, dst)
    dt = time.time() - t
    t = time.time()
    # D4 sweep: at the first moment the peer was seen holding each new count
    # of A's changes, the image of durable writes only (no mount needed:
    # mdb_stat and the committed version vector).
    sweep = swept_bad = 0
    for rec, tr, chk in recs if a.only is None and not a.no_sweep else []:
        last = -1
        for t1, vv in chk.peer:
            if vv <= last:
                continue
            last = vv
            cut = bisect.bisect_right(tr.cut_times, t1)
            if cut >= len(tr.events):
                continue
            tr.build(cut, "none", random.Random(0), img)
            sweep += 1
            fails = chk.check_d4(img, tr.cut_time(cut))
            if fails:
                swept_bad += 1
                for g, w in fails:
                    kinds[g] = kinds.get(g, 0) + 1
                    print("FAIL D4-sweep image [%s, cut after event %d/%d = trace line %d, "
                          "durable writes only]: %s %s"
                          % (os.path.basename(rec.rstrip("/")), cut, len(tr.events),
                             tr.events[cut].line + 1, g, w), flush=True)
    if sweep:
        print("D4 sweep: %d images (one per new count the peer showed), %d failed, "
              "%.3f s per image" % (sweep, swept_bad, (time.time() - t) / sweep))
    built, checked, failed = built + sweep, checked + sweep, failed + swept_bad
    print("images built %d, checked %d, failed %d" % (built, checked, failed))
    print("(seed %d, %.2f s per mounted image; failures by guarantee: %s; "
          "rerun one with --only I)" % (a.seed, dt / max(checked - sweep, 1),
             ", ".join("%s %d" % kv for kv in sorted(kinds.items())) or "none"))
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


def self_test(tr, chk, img):
    """The checker catches a missing synced write and passes what must pass."""
    bad = 0
    last = len(tr.events) - 1
    # 1. Everything applied, at the end of the trace (a clean unmount): passes.
    tr.build(last, "all", random.Random(0), img)
    f = chk.check(img, tr.cut_time(last))
    print("self-test: all writes, end of trace: %s" % (f or "pass"))
    bad += bool(f)
    # 2. Every write dropped (the snapshot) but the cut at the end: every
    #    record fsync'd must be reported (D2), and D4 since the peer got changes.
    tr.build(last, "none", random.Random(0), img, drop_durable=True)
    f = chk.check(img, tr.cut_time(last))
    need = {r for t1, r, v in chk.fsyncs if chk.expected(r, tr.cut_time(last))[0] is not None
            and not chk.expected(r, tr.cut_time(last))[2]}
    got = {w.split(":")[0] for g, w in f if g == "D2"}
    d4 = any(g == "D4" for g, w in f)
    print("self-test: no writes at all: D2 reported for %d of %d records that must be durable, "
          "D4 %s" % (len(got & need), len(need), "reported" if d4 else "NOT reported"))
    bad += (got != need) or not need or (not d4 and chk.peer and max(v for _, v in chk.peer) > 0)
    # 3. The image before any write, cut before any event: passes.
    tr.build(-1, "all", random.Random(0), img)
    f = chk.check(img, tr.cut_time(-1))
    print("self-test: the snapshot, cut before the first event: %s" % (f or "pass"))
    bad += bool(f)
    # 4. A synced write left out is caught: for up to 8 writes followed by
    #    fsync() on the same file descriptor, cut right
    #    after the fsync returned, keep only durable writes, but take every
    #    sync made since the write started as not done: D2 must name that
    #    record.  The same image with those syncs kept must not name it.
    #    (An fsync on the fd of the write has the t0 of its put.)
    puts = {(e["rec"], e["t0"]) for e in map(json.loads, open(chk.wlog)) if e["op"] == "put"}
    tried, caught, clean = 0, 0, 0
    for e in map(json.loads, open(chk.wlog)):
        if e["op"] != "fsync" or (e["rec"], e["t0"]) not in puts or tried == 8:
            continue
        t1, rec = e["t1"], e["rec"]
        # The first cut at which that fsync() counts as returned.
        cut = bisect.bisect_right(tr.cut_times, t1)
        if cut >= len(tr.events):
            continue
        tried += 1
        tr.build(cut, "none", random.Random(0), img)
        clean += not any(w.startswith(rec + ":") for g, w in chk.check(img, tr.cut_time(cut))
                         if g == "D2")
        tr.build(cut, "none", random.Random(0), img, unsync_after=e["t0"])
        caught += any(w.startswith(rec + ":") for g, w in chk.check(img, tr.cut_time(cut))
                      if g == "D2")
    print("self-test: a synced write left out: caught %d of %d; kept: not flagged %d of %d"
          % (caught, tried, clean, tried))
    bad += caught != tried or tried == 0
    # 5. What kill -9 leaves (every write made, none lost) at 10 cuts: passes.
    rng = random.Random(5)
    n = 0
    for cut in sorted(rng.sample(range(len(tr.events)), min(10, len(tr.events)))):
        tr.build(cut, "all", rng, img)
        f = chk.check(img, tr.cut_time(cut))
        if f:
            print("self-test: all writes, cut after event %d: %s" % (cut, f))
        n += not f
    print("self-test: all writes at 10 cuts (kill -9): %d passed" % n)
    bad += n != min(10, len(tr.events))
    print("self-test: %s" % ("FAILED" if bad else "passed"))
    return 2 if bad else 0


if __name__ == "__main__":
    main()
