/**
 * A request the user starts with a button (a cost estimate, the first batch, generated text): its last
 * answer, whether one is in flight, and its error, all as state for the page to show — never thrown. A new
 * answer clears the error; a failure keeps the last answer (the page shows the error instead of it).
 */

import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import { messageOf } from './format.js';

export interface Request<A extends unknown[], T> {
  answer: ShallowRef<T | undefined>;
  busy: Ref<boolean>;
  error: Ref<string | undefined>;
  send(...args: A): Promise<void>;
}

export function useRequest<A extends unknown[], T>(ask: (...args: A) => Promise<T>): Request<A, T> {
  const answer = shallowRef<T>();
  const busy = ref(false);
  const error = ref<string>();
  async function send(...args: A): Promise<void> {
    busy.value = true;
    try {
      answer.value = await ask(...args);
      error.value = undefined;
    } catch (e) {
      error.value = messageOf(e);
    } finally {
      busy.value = false;
    }
  }
  return { answer, busy, error, send };
}
