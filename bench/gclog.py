"""Run ``chatbox.py`` with the pause of every slow or full garbage collection logged.

    python bench/gclog.py LOG chatbox.py --port=... (the server's usual arguments)

Each line of LOG: wall-clock time, generation, pause in seconds, objects freed.
Generation-2 collections are always logged, younger ones only from 5 ms up (there are
thousands of those and they are short). The bench uses it with ``--gc-log``.
"""

import gc
import os
import runpy
import sys
import time

SLOW = 0.005


def main():
    log_path, script, *args = sys.argv[1:]
    log = open(log_path, "w", buffering=1)
    started = [0.0]

    def hook(phase, info):
        now = time.perf_counter()
        if phase == "start":
            started[0] = now
            return
        pause = now - started[0]
        if info["generation"] == 2 or pause >= SLOW:
            log.write(
                f"{time.strftime('%H:%M:%S')} gc{info['generation']} "
                f"{pause:.3f} s collected {info['collected']}\n"
            )

    gc.callbacks.append(hook)
    sys.argv = [script, *args]
    # As if the script had been run directly: its folder, not bench/, comes first.
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
