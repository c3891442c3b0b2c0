server.tool("add", "Add numbers", { a: z.number().int().positive(), b: z.number().default(1),
  tags: z.array(z.string().min(2)).nonempty(), kind: z.enum(["x", "y"]).optional() }, async () => ({}));
server.tool("broken", { a: z.custom<Foo>() }, cb);
const defs = [{ name: 'lookup', description: `Find ${x}`, parameters: { type: 'object', properties: { id: { type: 'string' } } } }];
server.registerTool("nested", { inputSchema: { o: z.object({ p: z.union([z.string(), z.number()]) }).nullable() } }, cb);
