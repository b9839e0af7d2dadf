// Pacing retries: how long to wait after a failure, and the wait itself.

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
