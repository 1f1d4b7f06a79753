"""The prediction form (the product's only user entry point)."""
from __future__ import annotations

from flask import Blueprint, render_template

from flightdelay import contract
from flightdelay.features import LABEL_NAMES

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    from webapp.api import services
    from webapp.limits import client_keys

    client_keys()  # the page's session cookie: its socket and its POSTs count as one client
    reference = services().reference()
    airports = sorted(reference.airports.items()) if reference else []
    carriers = sorted(reference.carriers.items()) if reference else []
    return render_template("index.html", airports=airports, carriers=carriers, labels=LABEL_NAMES,
                           delay_min=contract.DEP_DELAY_RANGE[0], delay_max=contract.DEP_DELAY_RANGE[1])
