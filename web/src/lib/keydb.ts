/**
 * IndexedDB custody of sealed (password-encrypted) browser keys, by portal request id.
 * Only SealedKey blobs are stored; never a plaintext key.
 */
import type { SealedKey } from "./custody";

const DB = "sigil-portal";
const STORE = "sealed-keys";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB is not available"));
  });
}

async function tx<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const r = f(db.transaction(STORE, mode).objectStore(STORE));
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error ?? new Error("IndexedDB failed"));
    });
  } finally {
    db.close();
  }
}

export function saveSealedKey(id: string, sealed: SealedKey): Promise<IDBValidKey> {
  return tx("readwrite", (s) => s.put(sealed, id));
}

export async function loadSealedKey(id: string): Promise<SealedKey | null> {
  try {
    return ((await tx("readonly", (s) => s.get(id))) as SealedKey | undefined) ?? null;
  } catch {
    return null;
  }
}

export function deleteSealedKey(id: string): Promise<undefined> {
  return tx("readwrite", (s) => s.delete(id));
}
