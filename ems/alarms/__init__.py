"""Alarms: rules as data (``rules``), hysteresis (``hysteresis``), what each rule watches (``signals``),
events and notifications (``store``, ``notify``), one run (``engine``), CLI (``cli``)."""
