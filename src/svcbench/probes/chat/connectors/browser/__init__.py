"""Browser connector: drives a company's real chat widget in headless Chromium (Playwright).

The universal fallback for platforms without a visitor API, split by job: ``options`` (the
keys), ``recipes`` (recognising known widgets from data files), ``observer.js`` (the in-page
observer and discovery), ``classify`` (reading bubbles and status lines), ``network`` (the
widget's own traffic as evidence), ``svcbench.browser`` (one shared Chromium, a context
per chat) and
``connector`` (the lifecycle).
"""

from __future__ import annotations

from .....browser import CHROMIUM, LAUNCH_ARGS
from .classify import bubble_actor, classify_bubble, clean_text
from .connector import BINDING, BrowserConnector, observer_script
from .options import DEFAULT_OFFLINE_PATTERNS, ActorRule, BrowserOptions

__all__ = ["BINDING", "CHROMIUM", "DEFAULT_OFFLINE_PATTERNS", "LAUNCH_ARGS", "ActorRule",
           "BrowserConnector", "BrowserOptions", "bubble_actor", "classify_bubble",
           "clean_text", "observer_script"]
