import { EncryptedFs, Vault } from "../mod.ts";
const dataDir = await Deno.makeTempDir();
const { fs, recoveryCode } = await EncryptedFs.create(dataDir, "a long password");
console.log("keep this safe:", recoveryCode);
const vault = new Vault(fs);
await vault.writeTextFile("/hello.txt", "hello, encrypted world");
console.log(await vault.readTextFile("/hello.txt"));
await fs.close();
