# Turns the report assets into a C header of byte arrays (NUL-terminated) so the
# binary carries them: `cmake -DOUT=<header> -DASSETS="<file>;<file>" -P embed.cmake`.
# Byte arrays instead of string literals: no escaping rules, no literal-length limits.
set(body "/* Generated from reports/assets by sim/report/embed.cmake: do not edit. */\n")
foreach(asset IN LISTS ASSETS)
  get_filename_component(name ${asset} NAME)
  string(MAKE_C_IDENTIFIER "${name}" ident)
  file(READ ${asset} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # keep lines short for compilers and editors
  string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){24})" "\\1\n" bytes "${bytes}")
  string(APPEND body "static const unsigned char rep_asset_${ident}[] = {\n${bytes}0x00};\n")
endforeach()
string(APPEND body "static const struct { const char *name; const unsigned char *data; } rep_assets[] = {\n")
foreach(asset IN LISTS ASSETS)
  get_filename_component(name ${asset} NAME)
  string(MAKE_C_IDENTIFIER "${name}" ident)
  string(APPEND body "    {\"${name}\", rep_asset_${ident}},\n")
endforeach()
string(APPEND body "};\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
