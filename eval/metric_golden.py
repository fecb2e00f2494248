#!/usr/bin/env python3
"""Prints the golden values of eval/metric_test.cc's RealDataTest.

Scores the official baseline's val predictions (infer.txt: each line is a
val label "image$attribute$text" followed by the baseline's top 10 image
names for that text) with the competition's mAP@10, computed here from its
definition and not from the C++ code:

  for each line (a query), in file order:
    relevant = the images of infer.txt whose attribute matches the line's
               attribute (see RELEVANCE below)
    hits = 1e-6; s = 0
    for r, name in enumerate(top 10, start=1):
      if name in relevant: hits += 1; s += hits / r
    AP = s / hits if any name was relevant else 0
  mAP@10 = (sum of AP, added in line order) / number of lines
  recall@k = share of lines with a relevant name in the first k

Relevance, as eval/labels.h states it:
  exact:             the image's attribute is byte-identical to the query's;
  pedestrian_subset: exact, or both attributes are pedestrian (21 comma-
                     separated 0/1 flags), the first flag (Female) is equal
                     and every flag that is 1 in the query is 1 in the image.
An attribute with a comma, or made of digits only, is a pedestrian one; any
other is a vehicle one.

Usage: eval/metric_golden.py [INFER_TXT]
  (default: $RETRIEVAL_SHARED_DIR/data/track2/open-transmind/infer.txt, or
  ../shared/... beside the checkout). Python 3 standard library only.
"""

import os
import sys

HIT_OFFSET = 1e-6
CUTOFF = 10


def default_path():
    shared = os.environ.get("RETRIEVAL_SHARED_DIR")
    if not shared:
        here = os.path.dirname(os.path.abspath(__file__))
        shared = os.path.join(here, "..", "..", "shared")
    return os.path.join(shared, "data", "track2", "open-transmind", "infer.txt")


def read_lines(path):
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = []
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        fields = line.split("$")
        rows.append((fields[0], fields[1], fields[3:]))
    return rows


def is_pedestrian(attribute):
    return "," in attribute or attribute.isdigit()


def flags(attribute):
    parts = attribute.split(",")
    if len(parts) != 21 or any(p not in ("0", "1") for p in parts):
        return None
    return [p == "1" for p in parts]


def matches(rule, query, image):
    if query == image:
        return True
    if rule != "pedestrian_subset":
        return False
    q, i = flags(query), flags(image)
    if q is None or i is None:
        return False
    if q[0] != i[0]:
        return False
    return all(i[k] for k in range(21) if q[k])


def average_precision(ranked, relevant):
    hits = HIT_OFFSET
    total = 0.0
    found = 0
    first = 0
    for rank, name in enumerate(ranked[:CUTOFF], start=1):
        if name in relevant:
            hits += 1.0
            total += hits / rank
            found += 1
            if first == 0:
                first = rank
    return (total / hits if found else 0.0), first


def score(rows, rule):
    images_of = {}  # attribute -> set of images
    for image, attribute, _ in rows:
        images_of.setdefault(attribute, set()).add(image)
    relevant_of = {}
    sums = {"all": [0, 0.0, 0, 0, 0], "pedestrian": [0, 0.0, 0, 0, 0],
            "vehicle": [0, 0.0, 0, 0, 0]}
    for _, attribute, ranked in rows:
        if attribute not in relevant_of:
            relevant = set()
            for other, images in images_of.items():
                if matches(rule, attribute, other):
                    relevant |= images
            relevant_of[attribute] = relevant
        ap, first = average_precision(ranked, relevant_of[attribute])
        category = "pedestrian" if is_pedestrian(attribute) else "vehicle"
        for key in ("all", category):
            s = sums[key]
            s[0] += 1
            s[1] += ap
            s[2] += first == 1
            s[3] += 1 <= first <= 5
            s[4] += 1 <= first <= 10
    n = sums["all"][0]
    return {
        "map": sums["all"][1] / n,
        "pedestrian": sums["pedestrian"][1] / sums["pedestrian"][0],
        "vehicle": sums["vehicle"][1] / sums["vehicle"][0],
        "r1": sums["all"][2] / n,
        "r5": sums["all"][3] / n,
        "r10": sums["all"][4] / n,
        "queries": n,
    }


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else default_path()
    rows = read_lines(path)
    print("%d queries in %s" % (len(rows), path))
    for rule, name in (("exact", "kExact"),
                       ("pedestrian_subset", "kPedestrianSubset")):
        m = score(rows, rule)
        # repr() is the shortest text that reads back as the same double.
        print("{Relevance::%s, %r, %r,\n %r, %r, %r, %r}," %
              (name, m["map"], m["pedestrian"], m["vehicle"], m["r1"],
               m["r5"], m["r10"]))


if __name__ == "__main__":
    main()
