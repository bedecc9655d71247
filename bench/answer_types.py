"""How often SQuAD 1.1 *train* answers fit ``qa.questions.answer_fits_question`` (the pipeline drops
candidates that do not): the rule is checked on training data, never on dev or the gold set.

Run: ``python bench/answer_types.py [--train ../shared/data/squad/train-v1.1.json]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.questions import answer_fits_question, asks_how_many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", default="../shared/data/squad/train-v1.1.json")
    parser.add_argument("--out", default="bench/results/answer_types.json")
    args = parser.parse_args()
    articles = json.loads(Path(args.train).read_text(encoding="utf-8"))["data"]
    asked, fitting, misses = 0, 0, []
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if not asks_how_many(qa["question"]):
                    continue
                asked += 1
                answers = [a["text"] for a in qa["answers"]]
                if any(answer_fits_question(qa["question"], a) for a in answers):
                    fitting += 1
                else:
                    misses.append({"question": qa["question"], "answers": answers})
    result = {
        "how_many_questions": asked,
        "answers_that_fit": fitting,
        "fit_rate": round(fitting / asked, 4),
        "examples_of_misses": misses[:25],
    }
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "examples_of_misses"}))


if __name__ == "__main__":
    main()
