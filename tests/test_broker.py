"""The embedded broker hands a worker only whole messages, and an unreadable one never stops it."""

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kombu import Connection

from picsweb import broker

REPOSITORY = Path(__file__).resolve().parents[1]
SHOW_TRANSPORT = (
    "from picsweb.celery import app; c = app.connection_for_write(); "
    "t = type(c.transport); "
    "print(t.__module__ + '.' + t.__name__, c.transport_options['data_folder_in'])"
)


@pytest.fixture
def folder(tmp_path):
    for name in ("queue", "processed", "control"):
        (tmp_path / name).mkdir()
    return tmp_path


@pytest.fixture
def name():
    """A queue's name of its own: kombu remembers the exchanges it declared for the process."""
    return f"tasks-{uuid.uuid4().hex}"


def connect(folder):
    return Connection(
        "filesystem://",
        transport="picsweb.broker:Transport",
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        },
    )


def test_the_settings_use_it_for_the_filesystem_broker(tmp_path):
    shown = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SHOW_TRANSPORT],
        env={
            **os.environ,
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_BROKER_DIR": f"{tmp_path}",
        },
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    transport, folder_in = shown.stdout.splitlines()[-1].split()
    assert (transport, folder_in) == ("picsweb.broker.Transport", str(tmp_path / "queue"))


def received(queue):
    message = queue.get(timeout=1)
    message.ack()
    return message.payload


def test_a_message_is_renamed_into_place_whole(folder, name, monkeypatch):
    seen = []
    real_replace = os.replace

    def replace(source, target):
        # At the moment of the rename the message is all written, under a name no worker takes.
        seen.append((os.path.basename(source), os.path.getsize(source)))
        assert not any(entry.endswith(".msg") for entry in os.listdir(folder / "queue"))
        real_replace(source, target)

    monkeypatch.setattr(broker.os, "replace", replace)
    with connect(folder) as connection:
        queue = connection.SimpleQueue(name)
        queue.put({"learner": "PW000101"})
        assert received(queue) == {"learner": "PW000101"}
        queue.close()
    [(file, size)] = seen
    assert file.endswith(f".{name}.msg{broker.PARTIAL_SUFFIX}") and size > 0


def test_a_partly_written_message_is_not_taken(folder, name):
    with connect(folder) as connection:
        queue = connection.SimpleQueue(name)
        (folder / "queue" / f"1_x.{name}.msg{broker.PARTIAL_SUFFIX}").write_bytes(b"")
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.2)
        queue.close()


def test_an_unreadable_message_is_passed_over_with_a_log(folder, name, caplog):
    with connect(folder) as connection:
        queue = connection.SimpleQueue(name)
        (folder / "queue" / f"0_empty.{name}.msg").write_bytes(b"")
        queue.put({"learner": "PW000102"})
        with caplog.at_level(logging.ERROR, logger="picsweb.broker"):
            assert received(queue) == {"learner": "PW000102"}
        queue.close()
    assert f"unreadable message on {name}" in caplog.text
    assert os.listdir(folder / "queue") == []
