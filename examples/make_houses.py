"""Write ``houses.csv``: 240 made-up houses with a documented price rule (see README.md here).

Run ``uv run python examples/make_houses.py`` to write the file again; the seed fixes every row.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

STREETS = ["Oak Street", "Mill Lane", "Station Road", "Church Street", "Park Avenue",
           "Canal Side", "High Street", "Meadow Way", "Willow Close", "Harbour Road"]  # fmt: skip
LABELS = ["A", "B", "C", "D", "E"]  # energy labels, best first


def houses(n: int = 240, seed: int = 7) -> list[dict[str, object]]:
    """Rows of address, area_m2, bedrooms, age_years, distance_km, garden, energy_label and
    price (thousands): price = 40 + 2.6 area + 12 bedrooms - 1.1 age - 9 distance
    + 25 garden - 10 (label index) + N(0, 25^2), then ~4% of feature cells left empty."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        area = float(np.clip(rng.normal(115, 35), 35, 260))
        bedrooms = int(np.clip(round(area / 35 + rng.normal(0, 0.7)), 1, 6))
        age = int(rng.integers(0, 90))
        distance = float(np.round(rng.gamma(2.0, 3.0), 1))
        garden = bool(rng.random() < 0.6)
        label = int(np.clip(round(age / 25 + rng.normal(0, 0.8)), 0, 4))
        price = (40 + 2.6 * area + 12 * bedrooms - 1.1 * age - 9 * distance + 25 * garden
                 - 10 * label + rng.normal(0, 25))  # fmt: skip
        row: dict[str, object] = {
            "address": f"{rng.integers(1, 200)} {STREETS[i % len(STREETS)]}",
            "area_m2": round(area),
            "bedrooms": bedrooms,
            "age_years": age,
            "distance_km": distance,
            "garden": "yes" if garden else "no",
            "energy_label": LABELS[label],
            "price": round(price),
        }
        for column in ("area_m2", "age_years", "distance_km", "energy_label"):
            if rng.random() < 0.04:
                row[column] = ""  # missing: --impute mean fills it with the training mean
        rows.append(row)
    return rows


def main() -> None:
    rows = houses()
    path = Path(__file__).with_name("houses.csv")
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {path}")


if __name__ == "__main__":
    main()
