#!/usr/bin/env python3
"""The tests' AMQP client, with Pika.

  amqp.py publish HOST QUEUE FIRST COUNT [ATTEMPTS]
                                          declare QUEUE as a quorum queue, publish messages
                                          FIRST..FIRST+COUNT-1 with publisher confirms, print how
                                          many the broker confirmed; ATTEMPTS (default 3, 2 s
                                          apart) to connect
  amqp.py read HOST QUEUE [UNTIL]         print every message body in QUEUE, in order, one per
                                          line, without removing any; with UNTIL (the number of
                                          the newest message wanted, while a publisher still
                                          writes), up to that message
"""
import sys

import pika


def channel(host, attempts=3):
    params = pika.ConnectionParameters(host=host, connection_attempts=attempts, retry_delay=2,
                                       credentials=pika.PlainCredentials("guest", "guest"))
    return pika.BlockingConnection(params).channel()


def publish(host, queue, first, count, attempts=3):
    ch = channel(host, attempts)
    ch.queue_declare(queue=queue, durable=True, arguments={"x-queue-type": "quorum"})
    ch.confirm_delivery()
    confirmed = 0
    for n in range(first, first + count):
        try:
            ch.basic_publish("", queue, str(n).encode(), pika.BasicProperties(delivery_mode=2),
                             mandatory=True)
            confirmed += 1
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
            break
    print(confirmed)


def read(host, queue, until=None):
    ch = channel(host)
    # The messages are never acknowledged, so the prefetch limit is how many can be read. Not 0
    # ("no limit"): RabbitMQ 3.10 gives a quorum queue's consumer 2000 for it, and a read of a
    # longer queue (a publisher writing for minutes) then stopped there, short of the newest ones.
    ch.basic_qos(prefetch_count=65535)
    declared = ch.queue_declare(queue=queue, durable=True, passive=True)
    total = declared.method.message_count
    # A read that knows the newest message it wants reads up to that one, whatever the count
    # (which leaves out messages another read still holds).
    print(f"the queue said it holds {total} ready messages", file=sys.stderr)
    count = 0
    for method, _, body in ch.consume(queue, inactivity_timeout=5):
        if method is None:
            break
        text = body.decode()
        # Printed as read: a read cut off by `timeout` still shows how far it came.
        print(text, flush=True)
        count += 1
        if until is None and count >= total:
            break
        if until is not None and text == str(until):
            break
    ch.cancel()
    # Not acknowledged: closing the channel returns every message to the queue.


if __name__ == "__main__":
    if sys.argv[1] == "publish":
        attempts = int(sys.argv[6]) if len(sys.argv) > 6 else 3
        publish(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), attempts)
    else:
        read(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else None)
