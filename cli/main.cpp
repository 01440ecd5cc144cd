#include <cstdio>
int main() { std::puts("hypertrain"); return 0; }
