# The report stage (grows with the issues): renders report/ from results/ alone.


def report_targets():
    return []
