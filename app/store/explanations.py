"""Each statistic of the item analysis in one line, with the rule of thumb Moodle's
documentation gives for it ("Quiz statistics report", docs.moodle.org): what the gradebook page
shows beside each number, and what the JSON export carries.
"""

from __future__ import annotations

__all__ = ["EXPLANATIONS"]

#: Each statistic in one line, and the rule of thumb Moodle's documentation gives for it.
EXPLANATIONS: dict[str, tuple[str, str]] = {
    "attempts": ("How many attempts the statistics are computed over.", ""),
    "mean": ("The average total score.", ""),
    "median": ("The middle total score: half the attempts scored less, half more.", ""),
    "sd": (
        "How far total scores spread around the mean.",
        "Roughly 12–18 % lets a test tell students apart.",
    ),
    "skewness": (
        "Whether scores lean to one side: negative when most score high with a tail of low scores.",
        "Between −1 and 1 is usual.",
    ),
    "kurtosis": (
        "How peaked the spread is: positive when most scores crowd around the mean.",
        "Near 0 is a bell-shaped spread.",
    ),
    "alpha": (
        "Coefficient of internal consistency (Cronbach's α): how far the questions measure one"
        " ability.",
        "Above 75 % satisfactory, below 64 % unsatisfactory.",
    ),
    "error_ratio": (
        "The share of the spread in scores that is random noise rather than ability.",
        "Below 50 % satisfactory.",
    ),
    "standard_error": (
        "How much a student's score may move by chance alone.",
        "Two students whose scores differ by less than about 2 SE are hard to tell apart.",
    ),
    "facility": (
        "The average mark as a share of the question's maximum: how easy it was.",
        "35–65 % about right for the average student; below 5 % or above 95 %, check the question.",
    ),
    "question_sd": ("How far marks on this question spread, as a share of its maximum.", ""),
    "random_guess": (
        "The mark a student would get on average by choosing at random.",
        "A facility close to it means students are guessing.",
    ),
    "intended_weight": ("The question's share of the maximum total score.", ""),
    "effective_weight": (
        "The question's share of the spread in total scores.",
        "Far from the intended weight, the question counts more or less than meant; blank when"
        " its marks go against the totals (negative covariance).",
    ),
    "discrimination": (
        "The correlation between marks on this question and on the rest of the test.",
        "50 % and above very good, 30–50 % adequate, 20–29 % weak, below 20 % very weak,"
        " negative: the question probably does not work.",
    ),
    "efficiency": (
        "The discrimination index as a share of the best that marks with this facility allow.",
        "The closer to 100 %, the better the question tells strong from weak students.",
    ),
}
