// A small eBPF assembler: just the instructions the socket-level translation
// programs use (socket-lb-programs.ts), with named labels for forward jumps.
// Encoding per the kernel's instruction-set document: 8 bytes per slot —
// opcode, dst (low nibble) / src (high nibble) registers, signed 16-bit offset,
// signed 32-bit immediate, little-endian; a 64-bit immediate load takes two slots.
// Pure: no syscalls; the program is loaded by bpf-sys.ts.

export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
export type Size = 1 | 2 | 4 | 8;

/** r10 is the read-only frame pointer; the stack is the 512 bytes below it. */
export const FP: Reg = 10;

const SIZE_BITS: Record<Size, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };
const LDX = 0x01, ST = 0x02, STX = 0x03, MEM = 0x60;
const ALU64 = 0x07, JMP = 0x05, K = 0x00, X = 0x08;
const MOV = 0xb0, ADD = 0x00, AND = 0x50;
const JA = 0x00, JEQ = 0x10, JNE = 0x50, CALL = 0x80, EXIT = 0x90;
/** src_reg of a 64-bit immediate load that names a map by its file descriptor. */
const PSEUDO_MAP_FD = 1;

interface Slot {
  op: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** Jump target label, resolved into `off` by `assemble`. */
  target?: string;
}

/** Builds one program; `assemble()` resolves labels and returns the instruction bytes. */
export class Asm {
  private readonly slots: Slot[] = [];
  private readonly labels = new Map<string, number>();

  private emit(op: number, dst: number, src: number, off: number, imm: number, target?: string): this {
    this.slots.push({ op, dst, src, off, imm, target });
    return this;
  }

  /** dst = src */
  mov(dst: Reg, src: Reg): this { return this.emit(ALU64 | MOV | X, dst, src, 0, 0); }
  /** dst = imm (sign-extended to 64 bits) */
  movImm(dst: Reg, imm: number): this { return this.emit(ALU64 | MOV | K, dst, 0, 0, imm); }
  addImm(dst: Reg, imm: number): this { return this.emit(ALU64 | ADD | K, dst, 0, 0, imm); }
  andImm(dst: Reg, imm: number): this { return this.emit(ALU64 | AND | K, dst, 0, 0, imm); }
  /** dst = *(size *)(src + off) */
  load(size: Size, dst: Reg, src: Reg, off: number): this { return this.emit(LDX | MEM | SIZE_BITS[size], dst, src, off, 0); }
  /** *(size *)(dst + off) = src */
  store(size: Size, dst: Reg, off: number, src: Reg): this { return this.emit(STX | MEM | SIZE_BITS[size], dst, src, off, 0); }
  /** *(size *)(dst + off) = imm (at most 32 bits) */
  storeImm(size: Size, dst: Reg, off: number, imm: number): this { return this.emit(ST | MEM | SIZE_BITS[size], dst, 0, off, imm); }
  /** dst = the map whose file descriptor is `fd` (the kernel swaps in the map's address at load) */
  loadMapFd(dst: Reg, fd: number): this {
    this.emit(0x18, dst, PSEUDO_MAP_FD, 0, fd);
    return this.emit(0, 0, 0, 0, 0);
  }
  jeqImm(dst: Reg, imm: number, label: string): this { return this.emit(JMP | JEQ | K, dst, 0, 0, imm, label); }
  jneImm(dst: Reg, imm: number, label: string): this { return this.emit(JMP | JNE | K, dst, 0, 0, imm, label); }
  jne(dst: Reg, src: Reg, label: string): this { return this.emit(JMP | JNE | X, dst, src, 0, 0, label); }
  ja(label: string): this { return this.emit(JMP | JA, 0, 0, 0, 0, label); }
  /** r0 = helper(r1..r5); r1–r5 are clobbered, r6–r9 kept */
  call(helper: number): this { return this.emit(JMP | CALL, 0, 0, 0, helper); }
  exit(): this { return this.emit(JMP | EXIT, 0, 0, 0, 0); }

  /** Emits a reusable sequence: `a.seq(lookup(map, -16))`. */
  seq(emit: (a: this) => unknown): this {
    emit(this);
    return this;
  }

  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`bpf-asm: label ${name} defined twice`);
    this.labels.set(name, this.slots.length);
    return this;
  }

  /** Number of 8-byte slots so far. */
  get length(): number {
    return this.slots.length;
  }

  assemble(): Buffer {
    const out = Buffer.alloc(this.slots.length * 8);
    this.slots.forEach((s, i) => {
      let off = s.off;
      if (s.target !== undefined) {
        const at = this.labels.get(s.target);
        if (at === undefined) throw new Error(`bpf-asm: jump to undefined label ${s.target}`);
        off = at - (i + 1);
        if (off < 0) throw new Error(`bpf-asm: backward jump to ${s.target} (programs here only jump forward)`);
      }
      out.writeUInt8(s.op, i * 8);
      out.writeUInt8((s.src << 4) | s.dst, i * 8 + 1);
      out.writeInt16LE(off, i * 8 + 2);
      out.writeInt32LE(s.imm | 0, i * 8 + 4);
    });
    return out;
  }
}
