export { Wallet, type WalletFile, walletCrypto } from './wallet.js';
