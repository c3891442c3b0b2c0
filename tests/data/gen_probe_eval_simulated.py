#!/usr/bin/env python3
"""Writes tests/data/probe_eval_simulated.jsonl by the rules of probe_eval_simulated.md.

Usage: python3 tests/data/gen_probe_eval_simulated.py > tests/data/probe_eval_simulated.jsonl
"""
import datetime
import json
import random

SEED = 20261204
RECORDS = 300
LIMIT = 10
LENGTHS = [1, 2, 3, 5, 8, 12, 20, 40]
NOISE_SD = 0.08
SCENARIOS = ["Summarise the nightly build failures", "Review the access-control change",
             "Draft the customer outage update", "Reconcile the monthly invoices",
             "Triage the on-call alert", "Plan the database migration"]


def label(c):
    if c >= 0.8:
        return "auto"
    if c <= 0.4:
        return "coach"
    return "paired"


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def record(rng, index):
    c = rng.uniform(0.05, 1.0)
    length = rng.choice(LENGTHS)
    change_at = None
    c0 = c
    if length >= 2 and rng.random() < 0.3:
        change_at = rng.randint(1, length - 1)
        c0 = rng.uniform(0.05, 1.0)
    newest = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(
        seconds=rng.randrange(0, 365 * 86400))
    sessions = []
    for i in range(length):
        competence = c if change_at is None or i >= change_at else c0
        score = round(min(1.0, max(0.0, rng.gauss(competence, NOISE_SD))), 2)
        completed = newest - datetime.timedelta(days=length - 1 - i)
        created = completed - datetime.timedelta(minutes=12)
        sessions.append({"reward": {"score": score}, "student_learning": None, "teacher_learning": None,
                         "created_at": iso(created), "completed_at": iso(completed)})
    window = sessions[-LIMIT:]
    scores = [s["reward"]["score"] for s in window]
    all_scores = [s["reward"]["score"] for s in sessions]

    def streak(pred):
        n = 0
        for s in reversed(scores):
            if not pred(s):
                break
            n += 1
        return n

    history = {
        "entries": window,
        "count": len(window),
        "total_count": length,
        "scores": scores,
        "average_score": round(sum(scores) / len(scores), 4),
        "overall_average_score": round(sum(all_scores) / len(all_scores), 4),
        "recent_high_score_streak": streak(lambda s: s >= 0.8),
        "recent_low_score_streak": streak(lambda s: s <= 0.4),
        "limit": LIMIT,
    }
    return {"task": f"{rng.choice(SCENARIOS)} ({index})", "learning_history": history,
            "expected_mode": label(c),
            "metadata": {"simulated": True, "competence": round(c, 3), "history_length": length,
                         "regime_change_at": change_at}}


def main():
    rng = random.Random(SEED)
    for i in range(1, RECORDS + 1):
        print(json.dumps(record(rng, i), sort_keys=False))


if __name__ == "__main__":
    main()
