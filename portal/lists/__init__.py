"""The one list component every list page shares: filters in the URL (django-filter FilterSets built on
the helpers in ``filters``), a bounded page (``paging``) and short ages (``ages``).

A FilterSet only ever narrows the queryset its view hands it: that queryset is already limited to what
the user may see (``portal.accounts.visibility``), so no filter value can widen a list.
"""
