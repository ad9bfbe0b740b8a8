#!/usr/bin/env python3
"""Runs dashboard bench binaries alternately and tabulates their timed questions.

    benches/alternate.py ROUNDS before=PATH after=PATH   # writes target/alternate.json
    benches/alternate.py --table before after             # prints the Markdown table

Each run is stopped once its timed questions are printed (no concurrent or DuckDB phase); the
order alternates every round. Run from the repository root, on a machine doing nothing else.
"""
import json, os, re, signal, statistics, subprocess, sys, time

RESULTS = 'target/alternate.json'
LINE = re.compile(r'^(.{44}) +([0-9.]+) +([0-9.]+) +(\S+)$')


def run(rounds, binaries):
    results = {name: [] for name in binaries}
    for r in range(rounds):
        order = list(binaries) if r % 2 == 0 else list(reversed(binaries))
        for name in order:
            started = time.time()
            process = subprocess.Popen([binaries[name], 'medium'], stdout=subprocess.PIPE,
                                       text=True, start_new_session=True)
            answers = {}
            for line in process.stdout:
                match = LINE.match(line.rstrip('\n'))
                if match and match.group(1).strip() != 'question':
                    answers[match.group(1).strip()] = [float(match.group(2)),
                                                       float(match.group(3)), match.group(4)]
                if line.startswith('with DuckDB'):
                    break
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            subprocess.run(['pkill', '-f', 'bench-peers/script'])
            results[name].append(answers)
            print(f'round {r} {name}: {len(answers)} questions, {time.time() - started:.0f} s',
                  flush=True)
            with open(RESULTS, 'w') as out:
                json.dump(results, out)


def table(a, b):
    results = json.load(open(RESULTS))
    print(f'| question | {a} p50 | {b} p50 | {b} / {a} p50 | {a} p95 | {b} p95 '
          f'| {b} / {a} p95 | served by |')
    print('|---|---|---|---|---|---|---|---|')
    for question in results[a][0]:
        def median(name, i):
            values = [run[question][i] for run in results[name] if question in run]
            return statistics.median(values), min(values), max(values)
        (ap, alo, ahi), (bp, blo, bhi) = median(a, 0), median(b, 0)
        a95, b95 = median(a, 1)[0], median(b, 1)[0]
        print(f'| {question} | {ap:.2f} ({alo:.2f}–{ahi:.2f}) | {bp:.2f} ({blo:.2f}–{bhi:.2f}) '
              f'| {bp / ap:.2f}× | {a95:.2f} | {b95:.2f} | {b95 / a95:.2f}× '
              f'| {results[b][0][question][2]} |')


if __name__ == '__main__':
    if sys.argv[1] == '--table':
        table(sys.argv[2], sys.argv[3])
    else:
        run(int(sys.argv[1]), dict(arg.split('=', 1) for arg in sys.argv[2:]))
