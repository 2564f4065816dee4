// A client that reads slowly holds the S3 socket its download streams from for as long as it
// takes. Four things bound what slow readers can do: downloads have an S3 pool of their own
// (see createApp), so they can only slow other downloads, never uploads, status or readiness;
// small objects are read whole (openObject), so their socket returns at once; at most a few
// downloads stream at once (createStreamSlots), so most of that pool stays free for the rest;
// and a stream is cut here when its reader stays below a minimum rate for a whole window (a 20 MiB
// original at the minimum still takes about five minutes). The window, not the average since
// the start: socket buffers on the way take megabytes at once, which would hide a reader that
// stalls for a minute after them.
import type { ServerResponse } from "node:http";

const MIN_BYTES_PER_S = 64 * 1024;
const WINDOW_S = 10;

/**
 * The same bytes; once fewer than MIN_BYTES_PER_S × WINDOW_S were taken in the last WINDOW_S seconds, the client's
 * connection is closed (`outgoing`, when served by Node), which cancels the S3 body and so
 * destroys its socket. Checked on a timer, since a stalled reader takes no bytes at all.
 */
export function holdToMinimumRate(
  source: ReadableStream<Uint8Array>,
  outgoing: ServerResponse | undefined,
  onEnd: () => void,
): ReadableStream<Uint8Array> {
  let taken = 0;
  // What had been taken at each of the last WINDOW_S ticks, oldest first.
  const takenAtTicks: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  const guard = new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      timer = setInterval(() => {
        takenAtTicks.push(taken);
        if (takenAtTicks.length <= WINDOW_S) return;
        const inWindow = taken - (takenAtTicks.shift() as number);
        if (inWindow >= MIN_BYTES_PER_S * WINDOW_S) return;
        clearInterval(timer);
        // Closing the connection says it to the client as plainly as HTTP/1.1 can once the
        // headers are out; without a socket (app.request() in tests), the stream fails instead.
        if (outgoing) outgoing.destroy();
        else controller.error(new Error(`download slower than ${MIN_BYTES_PER_S} bytes/s`));
      }, 1_000);
      timer.unref();
    },
    transform(chunk, controller) {
      taken += chunk.byteLength;
      controller.enqueue(chunk);
    },
    flush() {
      clearInterval(timer);
    },
  });
  // Settles however the download ends: read to its end, cut, or abandoned by the client.
  const end = () => {
    clearInterval(timer);
    onEnd();
  };
  source.pipeTo(guard.writable).then(end, end);
  return guard.readable;
}

export interface StreamSlots {
  /** Takes a slot for one streamed download; false when all are taken. */
  tryTake(): boolean;
  /** Gives back a slot taken. */
  give(): void;
}

/** A count of the downloads streaming at once, at most `max`. */
export function createStreamSlots(max: number): StreamSlots {
  let taken = 0;
  return {
    tryTake() {
      if (taken >= max) return false;
      taken++;
      return true;
    },
    give() {
      taken--;
    },
  };
}
