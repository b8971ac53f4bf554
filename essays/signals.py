"""Signals other apps listen to; `essays` itself never imports them back."""

from django.dispatch import Signal

section_revised = Signal()
"""Sent by Section.save() whenever a section's text changed and a new SectionRevision was
recorded, inside the same transaction (a receiver's writes commit or roll back with the
revision; a receiver that raises undoes the edit).

Arguments:
    sender    the Section class
    section   the Section, already saved with its new text and current_revision
    previous  the SectionRevision it had before, or None for a section's first revision
    revision  the new SectionRevision (revision.body_text is the text positions count in)
"""
