#!/usr/bin/env python3
"""The tests' AMQP client, with Pika.

  amqp.py publish HOST QUEUE FIRST COUNT  declare QUEUE as a quorum queue, publish messages
                                          FIRST..FIRST+COUNT-1 with publisher confirms, print how
                                          many the broker confirmed
  amqp.py read HOST QUEUE                 print every message body in QUEUE, in order, one per
                                          line, without removing any
"""
import sys

import pika


def channel(host):
    params = pika.ConnectionParameters(host=host, connection_attempts=3, retry_delay=2,
                                       credentials=pika.PlainCredentials("guest", "guest"))
    return pika.BlockingConnection(params).channel()


def publish(host, queue, first, count):
    ch = channel(host)
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


def read(host, queue):
    ch = channel(host)
    # No prefetch limit: the messages are never acknowledged, so a limit would be how many are read.
    ch.basic_qos(prefetch_count=0)
    bodies = []
    declared = ch.queue_declare(queue=queue, durable=True, passive=True)
    total = declared.method.message_count
    for method, _, body in ch.consume(queue, inactivity_timeout=5):
        if method is None:
            break
        bodies.append(body.decode())
        if len(bodies) >= total:
            break
    ch.cancel()
    # Not acknowledged: closing the channel returns every message to the queue.
    print("\n".join(bodies))


if __name__ == "__main__":
    if sys.argv[1] == "publish":
        publish(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        read(sys.argv[2], sys.argv[3])
