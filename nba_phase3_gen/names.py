"""Plausible, unique player names and the keys derived from them."""

import re

import numpy as np

FIRST_NAMES = (
    "Aaron Adrian Alec Alex Allen Alonzo Amir Andre Anthony Austin Bam Ben Blake Bobby Bradley Brandon "
    "Brook Bruce Caleb Cam Cameron Caris Chris Christian Cody Cole Collin Corey Dalen Damian Daniel "
    "Dante Darius Davion Dean Deandre Dejounte Derrick Desmond Devin Dillon Donovan Dorian Duncan "
    "Dwight Dyson Eric Evan Franz Gary Gordon Grant Harrison Herbert Isaac Isaiah Ivica Jabari Jaden "
    "Jakob Jalen Jamal Jaren Jarrett Javonte Jaylen Jeremy Jerome Jimmy Joel Jonas Jordan Josh Jrue "
    "Julius Justin Kai Keegan Keldon Kelly Kendrick Kenyon Kevin Khris Klay Kyle Lamar Landry Lauri "
    "Luka Malik Marcus Markelle Mason Max Miles Mikal Mitchell Moses Myles Naji Nate Nick Nikola "
    "Norman Obi Onyeka Pascal Patrick Quentin Reggie Rudy Russell Saddiq Scottie Seth Shai Spencer "
    "Stephen Terance Terry Thaddeus Tobias Trae Tre Trey Tyler Tyrese Tyus Victor Walker Wendell "
    "Xavier Zach Zion"
).split()

LAST_NAMES = (
    "Adams Allen Anderson Bagley Bailey Ball Barnes Bates Beasley Bell Bennett Bridges Brooks Brown "
    "Bryant Butler Caldwell Carter Clarke Coleman Collins Cooper Craig Cunningham Daniels Davis "
    "Dawson Dixon Dunn Edwards Ellis Evans Fields Fletcher Flynn Fox Franklin Freeman Gibson Gordon "
    "Graham Grant Green Griffin Hall Hamilton Harper Harris Hart Hayes Henderson Hill Holiday Holmes "
    "Howard Hughes Hunter Jackson James Jenkins Johnson Jones Jordan Keller Kennedy King Knight Lane "
    "Lewis Little Lowry Mann Marshall Martin Mason McCollum McDaniels Miller Mills Mitchell Monroe "
    "Moore Morris Murphy Murray Nance Nelson Norman O'Neale O'Brien Okafor Owens Parker Patterson "
    "Payne Perry Porter Powell Price Randle Reed Reid Richards Richardson Roberts Robinson Rose Ross "
    "Russell Sanders Simmons Smart Smith St.Clair Stewart Stokes Sullivan Tate Taylor Terry Thomas "
    "Thompson Tucker Turner Valentine Vaughn Walker Wallace Ward Warren Washington Watson White "
    "Wiggins Williams Wilson Wood Wright Young Jones-Garcia Gilgeous Leonard Wembley"
).split()


def lookup_of(full_name: str) -> str:
    """player_lookup: the name in lowercase without spaces or punctuation."""
    return re.sub(r"[^a-z]", "", full_name.lower())


def new_names(rng: np.random.Generator, count: int, taken: set) -> list:
    """`count` full names whose lookups are not in `taken` (which is updated)."""
    names = []
    while len(names) < count:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        key = lookup_of(name)
        if key not in taken:
            taken.add(key)
            names.append(name)
    return names
