#!/usr/bin/env python3
"""The mixed workload the crash explorer records, run through a blazefs mount.

usage: workload.py MNT LOG SEED STEPS [PEER_DB] [BURST]

Writes records of collection MNT/c with real tools and syscalls: creates and
overwrites (open/write/close), overwrites followed by fsync(), rename saves
(a temporary file in the collection, `mv` over the record, sometimes an fsync
of the directory: the careful save), `sed -i` edits (a rename save too),
fsync() of a record opened read-only, and deletes (`rm`).

LOG gets one JSON object per line, each with t0/t1 (time.time() before the
operation started and after it returned):
  {"op": "put", "rec": R, "v": CONTENT-as-JSON}   a version of R (close returned)
  {"op": "del", "rec": R}                           R deleted (unlink returned)
  {"op": "fsync", "rec": R, "v": CONTENT}           fsync()/fsync(dir) returned 0;
                                                    CONTENT is what it made durable
  {"op": "peer", "vv": N}                           the peer held A's changes 1..N
With PEER_DB, a thread polls `blazefs status PEER_DB` and logs "peer" lines
(for D4): t1 is when the answer was read, so the peer held them by then.
BURST > 0 ends with two threads each writing BURST records (b*) as fast as they
can, the load under which the issue saw changes sent before they were durable.
The log is appended to, and records already in MNT/c are taken as the current
versions: a second run continues the first (after a kill -9 and a restart).
"""

import json
import os
import random
import subprocess
import sys
import threading
import time

mnt, logpath, seed, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
peer_db = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
burst = int(sys.argv[6]) if len(sys.argv) > 6 else 0
blazefs = os.environ.get("BLAZEFS", "blazefs")
rng = random.Random(seed)
coll = os.path.join(mnt, "c")
log = open(logpath, "a", buffering=1)
lock = threading.Lock()
current = {}  # record -> its content (dict) or None when deleted


def emit(**kw):
    with lock:
        log.write(json.dumps(kw, sort_keys=True) + "\n")


def content(rec, n):
    return {"rec": rec, "n": n, "pad": "x" * rng.randint(10, 600)}


def body(v):
    return json.dumps(v, sort_keys=True) + "\n"


def put(rec, v, sync):
    t0 = time.time()
    with open(os.path.join(coll, rec + ".json"), "w") as f:
        f.write(body(v))
        f.flush()
        if sync:
            os.fsync(f.fileno())
            ts = time.time()
    t1 = time.time()
    current[rec] = v
    emit(op="put", rec=rec, v=v, t0=t0, t1=t1)
    if sync:
        emit(op="fsync", rec=rec, v=v, t0=t0, t1=ts)


def rename_save(rec, v, sync):
    t0 = time.time()
    tmp = os.path.join(coll, ".%s.json.swp%d" % (rec, rng.randint(0, 999)))
    with open(tmp, "w") as f:
        f.write(body(v))
        if sync:
            os.fsync(f.fileno())
    subprocess.run(["mv", tmp, os.path.join(coll, rec + ".json")], check=True)
    t1 = time.time()
    current[rec] = v
    emit(op="put", rec=rec, v=v, t0=t0, t1=t1)
    if sync:
        fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(fd)
        os.close(fd)
        emit(op="fsync", rec=rec, v=v, t0=t1, t1=time.time())


def sed_edit(rec, n):
    old = current[rec]
    t0 = time.time()
    subprocess.run(["sed", "-i", 's/"n": %d,/"n": %d,/' % (old["n"], n),
                    os.path.join(coll, rec + ".json")], check=True)
    t1 = time.time()
    with open(os.path.join(coll, rec + ".json")) as f:
        v = json.load(f)  # what sed made of it, whatever the layout
    current[rec] = v
    emit(op="put", rec=rec, v=v, t0=t0, t1=t1)


def fsync_only(rec):
    t0 = time.time()
    fd = os.open(os.path.join(coll, rec + ".json"), os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    emit(op="fsync", rec=rec, v=current[rec], t0=t0, t1=time.time())


def delete(rec):
    t0 = time.time()
    subprocess.run(["rm", os.path.join(coll, rec + ".json")], check=True)
    current[rec] = None
    emit(op="del", rec=rec, t0=t0, t1=time.time())


def poll_peer(stop):
    while not stop.is_set():
        t0 = time.time()
        r = subprocess.run([blazefs, "status", "--json", peer_db], capture_output=True, text=True)
        t1 = time.time()
        if r.returncode == 0:
            st = json.loads(r.stdout)
            emit(op="peer", vv=st["version_vector"].get(origin, 0), t0=t0, t1=t1)
        stop.wait(0.01)


os.makedirs(coll, exist_ok=True)
for name in os.listdir(coll):
    if name.endswith(".json"):
        with open(os.path.join(coll, name)) as f:
            current[name[:-5]] = json.load(f)
origin = None
stop = threading.Event()
poller = None
if peer_db:
    with open(os.path.join(mnt, ".blazefs", "status")) as f:
        origin = json.load(f)["device"]
    poller = threading.Thread(target=poll_peer, args=(stop,))
    poller.start()

recs = ["r%d" % i for i in range(12)]
n = 10000 if current else 0  # a second run's versions stay apart
for step in range(steps):
    n += 1
    rec = rng.choice(recs)
    live = current.get(rec) is not None
    x = rng.random()
    if not live or x < 0.30:
        put(rec, content(rec, n), sync=rng.random() < 0.3)
    elif x < 0.50:
        rename_save(rec, content(rec, n), sync=rng.random() < 0.5)
    elif x < 0.60:
        sed_edit(rec, n)
    elif x < 0.72:
        fsync_only(rec)
    elif x < 0.80:
        delete(rec)
    else:
        put(rec, content(rec, n), sync=False)
    time.sleep(rng.choice([0, 0, 0.001, 0.003, 0.01]))


def burster(k, count):
    r = random.Random(seed * 100 + k)
    for i in range(count):
        rec = "b%d-%d" % (k, r.randrange(8))
        v = {"rec": rec, "n": 100000 * (k + 1) + i, "pad": "y" * r.randint(10, 300)}
        t0 = time.time()
        with open(os.path.join(coll, rec + ".json"), "w") as f:
            f.write(body(v))
        emit(op="put", rec=rec, v=v, t0=t0, t1=time.time())


if burst:
    ts = [threading.Thread(target=burster, args=(k, burst)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
# The peer's last word, once the writes have had time to reach it.
if peer_db:
    time.sleep(0.3)
stop.set()
if poller:
    poller.join()
log.close()
