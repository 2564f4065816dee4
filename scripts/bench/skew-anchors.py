"""The skew estimators people use, on the images `npm run bench -- deskew` wrote.

Reads a JSON list of image paths (argv[1]); prints one JSON object: per path, each estimator's
angle (degrees, counter-clockwise correction, as both packages return it: the page was turned
clockwise by as much) and its time in milliseconds. Each runs with its own defaults, as its
README shows it: jdeskew's get_angle on the grey image, deskew's determine_skew on the grey image.
"""
import json
import sys
import time

import cv2
from deskew import determine_skew
from jdeskew.estimator import get_angle


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as listing:
        paths = json.load(listing)
    results = {}
    for path in paths:
        grey = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        started = time.perf_counter()
        jdeskew_angle = float(get_angle(grey))
        jdeskew_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        found = determine_skew(grey)
        deskew_ms = (time.perf_counter() - started) * 1000
        results[path] = {
            "jdeskew": jdeskew_angle,
            "jdeskewMs": jdeskew_ms,
            "deskew": None if found is None else float(found),
            "deskewMs": deskew_ms,
        }
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
