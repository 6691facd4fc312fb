/**
 * The crash workload's model of the tree it made (crash_workload.ts): nodes with their names,
 * content and former paths.
 */
import { type PathState, sha } from "./crash_journal.ts";

/** A file or directory of the model. */
export interface Node {
  id: number;
  kind: "f" | "d";
  name: string;
  parent: Node | null;
  children: Map<string, Node>;
  /** Every name this directory ever held (a directory fsync claims each one's state). */
  everNames: Set<string>;
  content: Uint8Array;
  /** Content changed since the file's last fsync. */
  dirty: boolean;
  /** Paths this node had before renames (its own or an ancestor's); absent for good. */
  former: string[];
}

let nextId = 0;

/** A new node (not yet attached to `parent`'s children), numbered in creation order. */
export function newNode(kind: "f" | "d", name: string, parent: Node | null): Node {
  return {
    id: nextId++,
    kind,
    name,
    parent,
    children: new Map(),
    everNames: new Set(),
    content: new Uint8Array(0),
    dirty: true,
    former: [],
  };
}

/** Path of `n` relative to the mount root. */
export function pathOf(n: Node): string {
  const parts: string[] = [];
  for (let x: Node | null = n; x && x.parent; x = x.parent) parts.unshift(x.name);
  return parts.join("/");
}

/** The journal state of `n` as it is in the model. */
export function stateOf(n: Node): PathState {
  return n.kind === "d" ? "d" : { len: n.content.length, sha: sha(n.content), id: n.id };
}

/** Every node of the subtree at `n`, `n` first. */
export function subtree(n: Node): Node[] {
  const out = [n];
  for (const c of n.children.values()) out.push(...subtree(c));
  return out;
}

/** Ancestors of `n` below the mount root, nearest first. */
export function ancestors(n: Node): Node[] {
  const out: Node[] = [];
  for (let x = n.parent; x && x.parent; x = x.parent) out.push(x);
  return out;
}

/** Whether `a` is `n` or one of its ancestors. */
export function isAncestorOrSelf(a: Node, n: Node): boolean {
  for (let x: Node | null = n; x; x = x.parent) if (x === a) return true;
  return false;
}
