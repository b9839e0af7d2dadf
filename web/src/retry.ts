// Pacing retries: how long to wait after a failure, the wait itself, and
// an idempotent call tried again after a transient failure.
import { transient } from "./error";

// backoff grows from 250 ms to 5 s with the attempt, with jitter so that
// many tabs do not reconnect in step after a restart.
export function backoff(attempt: number): number {
  const base = Math.min(5000, 250 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

// sleep waits ms, or less: until signal aborts or the browser comes back
// online, when whatever failed is worth trying again at once.
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", wake);
      window.removeEventListener("online", wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal?.addEventListener("abort", wake, { once: true });
    window.addEventListener("online", wake, { once: true });
  });
}

// retrying makes an idempotent call, and after a transient failure (see
// transient) makes it again, up to 3 more times with backoff; any other
// failure, or the last one, is thrown.
export async function retrying<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!transient(err) || attempt >= 3) throw err;
      await sleep(backoff(attempt + 2));
    }
  }
}
