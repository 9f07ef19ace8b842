#!/usr/bin/env python3
"""One-edit latency between two mounts: writes FILE_A N times (a new value
each time) and times until FILE_B holds it; prints the median in ms.

usage: latency.py FILE_A FILE_B N TAG"""
import statistics
import sys
import time


def main():
    a, b, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    lat = []
    for i in range(n):
        want = f'"{tag}-{i}"'
        t0 = time.monotonic()
        with open(a, "w") as f:
            f.write(f'{{"v": {want}}}\n')
        while True:
            try:
                with open(b) as f:
                    if want in f.read():
                        break
            except OSError:
                pass
            if time.monotonic() - t0 > 10:
                print(f"edit {i} not on B after 10 s", file=sys.stderr)
                sys.exit(1)
            time.sleep(0.001)
        lat.append((time.monotonic() - t0) * 1000)
        time.sleep(0.01)
    print(round(statistics.median(lat), 1))


main()
