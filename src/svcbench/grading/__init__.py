"""Answer quality: answer keys, a rubric, graders (answer key, person, model), agreement.

- :mod:`.settings`  the rubric and ``[grading]`` settings (part of svcbench.toml)
- :mod:`.keys`      answer keys per scenario: required facts, extras, forbidden claims
- :mod:`.grader`    the deterministic offline grader (answer key against a reply)
- :mod:`.agreement` percent agreement and Cohen's kappa
- :mod:`.store`     grades in SQLite; what each graded interaction asked and got back
- :mod:`.quality`   per-probe quality and the ranking's ``quality`` part (pure functions)
- :mod:`.model`     optional model grading through simonw's ``llm`` (extra ``llm``)
"""
