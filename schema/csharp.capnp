# Annotations read by our C# code generator (src/capnpc-csharp).
@0xd082b8b95cfb7031;

annotation namespace(file) :Text;
# The C# namespace of the code generated for this file.
