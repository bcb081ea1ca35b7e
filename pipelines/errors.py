"""The errors that stop `bangfu run` and `bangfu review` as a whole (the command line turns them
into its exit statuses)."""


class PipelineError(Exception):
    """A failure that stops the whole run (e.g. units.csv is not a tree)."""


class UsageError(PipelineError):
    """The run asked for something the landing folder does not hold (a year, a unit): a usage
    error of the command line (exit status 2), found once units.csv has been read."""
