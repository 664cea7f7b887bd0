"""Flask blueprints: ``quiz`` (the student's side) and ``instructor`` (mailbox and gradebook)."""
